from dashboard.web import create_server

server = create_server()
