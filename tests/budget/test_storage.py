import pytest

from budgetsweep.budget.storage import (STORAGE_ENV, absolute_sqlite, check_url, default_storage_url, mask,
                                        open_optuna_storage,
                                        url_for_job, url_from_job)

PG = "postgresql+psycopg2://alice:s3cret@db.example:5432/sweeps"


def test_mask_hides_the_password():
    assert mask(PG) == "postgresql+psycopg2://alice:***@db.example:5432/sweeps"
    assert mask("sqlite:////tmp/x.db") == "sqlite:////tmp/x.db"


def test_the_job_gets_a_masked_url_and_the_password_through_the_environment(monkeypatch):
    monkeypatch.delenv(STORAGE_ENV, raising=False)
    shown = url_for_job(PG)
    assert "s3cret" not in shown
    assert url_from_job(shown) == PG
    monkeypatch.delenv(STORAGE_ENV)
    with pytest.raises(ValueError, match=STORAGE_ENV):
        url_from_job(shown)
    assert url_for_job("sqlite:////tmp/x.db") == "sqlite:////tmp/x.db"


def test_default_storage_is_under_outputs_of_the_original_directory(tmp_path):
    assert default_storage_url(tmp_path) == f"sqlite:///{tmp_path / 'outputs' / 'budgetsweep.db'}"
    assert (tmp_path / "outputs").is_dir()


@pytest.mark.parametrize("url,message", [
    ("nonsense", "hydra.sweeper.storage='nonsense' cannot be opened"),
    ("nodb://x/y", "cannot be opened"),
    ("sqlite:////no/such/folder/x.db", "folder /no/such/folder does not exist"),
    ("sqlite://", "in-memory database"),
    (42, "is not a storage"),
])
def test_bad_storage_is_a_clear_error(url, message):
    with pytest.raises(ValueError) as err:
        check_url(url)
    assert message in str(err.value) and "allowed:" in str(err.value)


def test_unreachable_server_error_masks_the_password():
    with pytest.raises(ValueError) as err:
        open_optuna_storage("postgresql+psycopg2://alice:s3cret@127.0.0.1:1/db")
    assert "s3cret" not in str(err.value) and "alice:***@" in str(err.value)


def test_relative_sqlite_paths_become_absolute_for_jobs_that_change_directory(tmp_path):
    from budgetsweep.budget.storage import absolute_sqlite

    assert absolute_sqlite("sqlite:///study.db", tmp_path) == f"sqlite:///{tmp_path / 'study.db'}"
    assert absolute_sqlite("sqlite:////abs/x.db", tmp_path) == "sqlite:////abs/x.db"
    assert absolute_sqlite(PG, tmp_path) == PG


def test_a_new_database_opens_without_alembic_and_passes_optunas_own_schema_check(tmp_path):
    import subprocess
    import sys

    url = f"sqlite:///{tmp_path / 'new.db'}"
    code = ("import sys, optuna\n"
            "from budgetsweep.budget.storage import open_optuna_storage\n"
            f"s = open_optuna_storage({url!r})\n"
            "study = optuna.create_study(storage=s, study_name='a', load_if_exists=True)\n"
            "study.optimize(lambda t: t.suggest_float('x', 0, 1), n_trials=2)\n"
            "print('alembic' in sys.modules)\n")
    for _ in range(2):  # a new database, then one this Optuna version has checked
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
        assert out.strip() == "False"
    import optuna

    full = optuna.storages.RDBStorage(url)  # Optuna's own set-up and compatibility check
    assert full.get_current_version() == full.get_head_version()
    assert len(optuna.load_study(study_name="a", storage=full).trials) == 4


def test_a_database_another_optuna_version_stamped_gets_the_full_check(tmp_path):
    import optuna
    from sqlalchemy import create_engine, text

    from budgetsweep.budget.storage import _checked_storage, open_optuna_storage

    url = f"sqlite:///{tmp_path / 'old.db'}"
    open_optuna_storage(url)
    with create_engine(url).begin() as conn:
        conn.execute(text("UPDATE budgetsweep_meta SET meta_value = '0.0.1|v0.9.0.a'"))
    assert _checked_storage(url, {}) is None  # not trusted: Optuna's version manager runs again
    assert isinstance(open_optuna_storage(url), optuna.storages.RDBStorage)
    assert _checked_storage(url, {}) is not None  # and re-stamped by this version


@pytest.mark.parametrize("umask", [0o002, 0o022, 0o077])
def test_the_sqlite_file_honours_the_process_umask(tmp_path, umask):
    import os
    import stat

    from budgetsweep.budget.ledger import Ledger

    old = os.umask(umask)
    try:
        url = default_storage_url(tmp_path)
        open_optuna_storage(url)
        Ledger(url, "s", unit="examples", limit=10.0).reserve(0, 1.0)
        given = absolute_sqlite("sqlite:///given.db", tmp_path)
        open_optuna_storage(given)
    finally:
        os.umask(old)
    for name in ("outputs/budgetsweep.db", "given.db"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o666 & ~umask, name
