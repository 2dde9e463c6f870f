"""Every setting is documented: the configuration table of docs/operations.md lists each Config variable."""

from __future__ import annotations

from api.config import ROOT, Config


def test_config_every_setting_in_operations_table():
    table = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    missing = [name for name in Config().as_dict() if f"| `{name}` |" not in table]
    assert missing == []


def test_config_defaults_are_embedded_setup(monkeypatch):
    for name in Config().as_dict():
        monkeypatch.delenv(name, raising=False)
    cfg = Config().as_dict()
    assert cfg["DATABASE_URL"].startswith("sqlite:///")
    assert cfg["RATELIMIT_ENABLED"] is False
