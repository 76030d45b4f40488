"""``[repository]`` in workstation.toml: a SQLite path, or a shared PostgreSQL URL with
where its password comes from (no server is contacted here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from workstation.adapters.repository_postgres import PostgresRepository
from workstation.adapters.repository_sqlite import SqliteRepository
from workstation.bootstrap import build_repository
from workstation.config import load_config, save_config
from workstation.errors import BadInput

URL = "postgresql://kcw@db.bank.example:5432/kcw?sslmode=verify-full&sslrootcert=db-ca.pem"


def write(home: Path, text: str) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "workstation.toml").write_text(text)


def test_path_keeps_sqlite(tmp_path: Path) -> None:
    write(tmp_path, '[repository]\npath = "ws.db"\n')
    config = load_config(tmp_path)
    assert config.repository_url == "" and config.repository_password() is None
    repo = build_repository(config)
    assert isinstance(repo, SqliteRepository) and repo.path == tmp_path / "ws.db"


def test_url_selects_postgresql_with_the_password_from_its_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, f'[repository]\nurl = "{URL}"\npassword_source = "env:KCW_DB_PASSWORD"\n')
    config = load_config(tmp_path)
    with pytest.raises(BadInput, match=r"\$KCW_DB_PASSWORD, which is not set"):
        build_repository(config)
    monkeypatch.setenv("KCW_DB_PASSWORD", "s3cret")
    repo = build_repository(config)
    assert isinstance(repo, PostgresRepository)
    assert repo.where == "db.bank.example:5432 (database kcw)"
    assert "s3cret" not in repr(repo)
    save_config(config)  # and back
    again = load_config(tmp_path)
    assert (again.repository_url, again.repository_password_source) == (
        URL,
        "env:KCW_DB_PASSWORD",
    )


def test_password_file_and_bad_settings(tmp_path: Path) -> None:
    (tmp_path / "db").mkdir()
    (tmp_path / "db" / "password").write_text("from-file\n")
    write(tmp_path, f'[repository]\nurl = "{URL}"\npassword_source = "file:db/password"\n')
    assert load_config(tmp_path).repository_password() == "from-file"
    write(tmp_path, f'[repository]\nurl = "{URL}"\npassword_source = "file:db/missing"\n')
    with pytest.raises(BadInput, match="Cannot read the repository password file"):
        load_config(tmp_path).repository_password()
    write(tmp_path, f'[repository]\nurl = "{URL}"\npassword_source = "vault"\n')
    with pytest.raises(BadInput, match="Unknown \\[repository\\] password_source"):
        load_config(tmp_path).repository_password()
    write(tmp_path, '[repository]\nurl = "db.bank.example/kcw"\n')
    with pytest.raises(BadInput, match="must start with postgresql://"):
        load_config(tmp_path)
