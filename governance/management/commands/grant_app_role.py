from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

# The application's database role: it reads and writes the tables it needs, but only
# appends to the audit trail, and owns nothing, so it cannot TRUNCATE, disable a
# trigger, alter a table or reset a sequence. Migrations run as the owner role.
AUDIT_TABLE = "governance_auditevent"


def statements(role: str, tables: list[str]) -> list[str]:
    quoted = connection.ops.quote_name(role)
    others = ", ".join(connection.ops.quote_name(t) for t in tables if t != AUDIT_TABLE)
    return [
        f"GRANT CONNECT ON DATABASE {connection.ops.quote_name(connection.settings_dict['NAME'])} TO {quoted}",
        f"GRANT USAGE ON SCHEMA public TO {quoted}",
        f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {quoted}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON {others} TO {quoted}",
        f"GRANT SELECT, INSERT ON {AUDIT_TABLE} TO {quoted}",
        f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {quoted}",
        f"GRANT TEMPORARY ON DATABASE {connection.ops.quote_name(connection.settings_dict['NAME'])} TO {quoted}",
        f"GRANT EXECUTE ON FUNCTION governance_release_version(bigint, timestamptz) TO {quoted}",
    ]


class Command(BaseCommand):
    help = (
        "Grants an existing PostgreSQL role what the application needs and nothing more (run as the owner, "
        "after migrate). Prints the statements; --apply runs them."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("role")
        parser.add_argument("--apply", action="store_true")

    def handle(self, *args: Any, role: str, apply: bool, **options: Any) -> None:
        tables = connection.introspection.table_names(include_views=False)
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
            if cursor.fetchone() is None:
                raise CommandError(f"No role {role!r}: CREATE ROLE {role} LOGIN PASSWORD '…' first.")
            for sql in statements(role, tables):
                self.stdout.write(sql + ";")
                if apply:
                    cursor.execute(sql)
