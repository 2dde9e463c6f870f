"""Every setting is documented: a configuration table (the README's, or docs/operations.md's) lists each one."""

from __future__ import annotations

from api.config import ROOT, Config


def test_config_every_setting_in_readme_table():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    operations = ROOT / "docs" / "operations.md"
    if operations.exists():
        readme += operations.read_text(encoding="utf-8")
    missing = [name for name in Config().as_dict() if f"| `{name}` |" not in readme]
    assert missing == []


def test_config_defaults_are_embedded_setup(monkeypatch):
    for name in Config().as_dict():
        monkeypatch.delenv(name, raising=False)
    cfg = Config().as_dict()
    assert cfg["DATABASE_URL"].startswith("sqlite:///")
    assert cfg["RATELIMIT_ENABLED"] is False
