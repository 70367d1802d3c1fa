"""Who may sign in to the manager and newsroom pages: a small file of users with hashed passwords.

The file (``CIVICWALL_USERS_FILE``, default ``<CIVICWALL_DATA_DIR>/users.json``) is JSON::

    {"users": [{"name": "wang", "role": "manager", "password": "scrypt:32768:8:1$...", "added": "..."}]}

and is written only by ``civicwall user add|remove`` (atomically, readable by its owner alone). Each
web worker reads it at every sign-in, so a user added or removed takes effect at once on every worker,
without a restart. Passwords are stored as Werkzeug's salted scrypt hashes, never as written.

Roles: ``manager`` may open the manager and the newsroom pages; ``newsroom`` the newsroom page only.
Wall screens need no sign-in.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from werkzeug.security import check_password_hash, generate_password_hash

from .errors import ConfigError

ROLES = ("manager", "newsroom")
NAME = re.compile(r"[\w.@-]{1,40}")
MIN_PASSWORD = 8
# Compared against when the name is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = generate_password_hash("civicwall-no-such-user")


@dataclass(frozen=True)
class User:
    name: str
    role: str

    def may(self, page: str) -> bool:
        """Whether this user may open ``page`` ("manager" or "newsroom")."""
        return self.role == "manager" or self.role == page


class UserStore:
    def __init__(self, path: str | Path):
        self.path = Path(path)

    def _read(self) -> list[dict]:
        try:
            raw = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        try:
            users = json.loads(raw)["users"]
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"users file {self.path}: not a civicwall users file ({exc})") from None
        if not isinstance(users, list):
            raise ConfigError(f"users file {self.path}: 'users' must be a list")
        return users

    def _write(self, users: list[dict]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".users-", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump({"users": users}, f, ensure_ascii=False, indent=1)
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def users(self) -> list[User]:
        return [User(u["name"], u["role"]) for u in self._read()]

    def add(self, name: str, role: str, password: str) -> User:
        if not NAME.fullmatch(name):
            raise ConfigError(f"user name {name[:50]!r}: 1-40 letters, digits, '.', '_', '@' or '-'")
        if role not in ROLES:
            raise ConfigError(f"role {role!r} is not one of {', '.join(ROLES)}")
        if len(password) < MIN_PASSWORD:
            raise ConfigError(f"the password must have at least {MIN_PASSWORD} characters")
        users = [u for u in self._read() if u["name"] != name]
        users.append({"name": name, "role": role, "password": generate_password_hash(password),
                      "added": datetime.now(timezone.utc).isoformat(timespec="seconds")})
        self._write(users)
        return User(name, role)

    def remove(self, name: str) -> bool:
        users = self._read()
        kept = [u for u in users if u["name"] != name]
        if len(kept) != len(users):
            self._write(kept)
        return len(kept) != len(users)

    def verify(self, name: str, password: str) -> User | None:
        """The user when the name and password match, else None (in about the same time either way)."""
        found = next((u for u in self._read() if u.get("name") == name), None)
        if found is None:
            check_password_hash(_DUMMY_HASH, password)
            return None
        if not check_password_hash(found.get("password", ""), password):
            return None
        return User(found["name"], found["role"]) if found.get("role") in ROLES else None


def users_path(settings) -> Path:
    return Path(settings.users_file) if settings.users_file else Path(settings.data_dir) / "users.json"


# -- civicwall user ... -------------------------------------------------------------------------------

def add_arguments(p) -> None:
    action = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = action.add_parser("add", help="add a user, or set a user's role and password")
    add.add_argument("name")
    add.add_argument("--role", choices=ROLES, required=True)
    add.add_argument("--password-stdin", action="store_true",
                     help="read the password from standard input instead of asking for it")
    remove = action.add_parser("remove", help="remove a user")
    remove.add_argument("name")
    action.add_parser("list", help="list the users and their roles")


def main(args, settings) -> int:
    import getpass
    import sys

    store = UserStore(users_path(settings))
    if args.action == "list":
        for user in store.users():
            print(f"{user.name}\t{user.role}")
        return 0
    if args.action == "remove":
        if not store.remove(args.name):
            print(f"civicwall user: no user {args.name!r} in {store.path}", file=sys.stderr)
            return 1
        print(f"removed {args.name} from {store.path}")
        return 0
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass(f"password for {args.name}: ")
        if getpass.getpass("again: ") != password:
            print("civicwall user: the two passwords differ", file=sys.stderr)
            return 2
    before = next((u for u in store.users() if u.name == args.name), None)
    user = store.add(args.name, args.role, password)
    if before is None:
        print(f"{user.name} ({user.role}) can sign in; users are in {store.path}")
    else:
        # Adding a name that exists changes that user: say so, it may have been a slip.
        change = f"role {before.role} -> {user.role}" if before.role != user.role else f"role {user.role} kept"
        print(f"changed the existing user {user.name}: {change}, new password; users are in {store.path}")
    return 0
