from typing import Any

from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.schema import CreateIndex

# Named constraints so Alembic migrations work the same on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

db = SQLAlchemy(metadata=MetaData(naming_convention=NAMING))
migrate = Migrate()


@compiles(CreateIndex, "sqlite")
def _sqlite_create_index(element: CreateIndex, compiler: Any, **kw: Any) -> str:
    """An index declared ``DESC NULLS LAST`` for PostgreSQL (whose descending
    order puts NULLs first) is plain ``DESC`` on SQLite, whose descending order
    puts NULLs last already, and whose CREATE INDEX takes no NULLS clause."""
    return compiler.visit_create_index(element, **kw).replace(" DESC NULLS LAST", " DESC")
