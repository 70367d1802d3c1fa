from dashboard.web import create_app

server = create_app().server
