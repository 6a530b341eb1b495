"""``stadtnetz web hash-password``: the hash an operator login of the status page needs (``web.users``).

Owns reading the password without echoing it (a terminal: asked twice, hidden; otherwise the first line of
standard input) and printing the hash :func:`stadtnetz.passwords.hash_password` makes, to be put where
``web.users.NAME.password_hash`` refers (``${ENV_VAR}`` or ``file:PATH``). The password is never printed.
"""

from __future__ import annotations

import sys

import click

from stadtnetz.cli.common import EXIT_CONFIG
from stadtnetz.passwords import hash_password


@click.group()
def web() -> None:
    """The status page's operator logins."""


@web.command("hash-password")
def hash_password_command() -> None:
    """Read a password (hidden on a terminal, else the first line of stdin) and print its scrypt hash.

    Put the hash in a file or an environment variable and refer to it from the configuration:
    web: {users: {noc: {password_hash: file:/etc/stadtnetz/noc.hash}}}.
    """
    if sys.stdin.isatty():
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True, err=True)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        click.echo("error: the password is empty", err=True)
        sys.exit(EXIT_CONFIG)
    click.echo(hash_password(password))
