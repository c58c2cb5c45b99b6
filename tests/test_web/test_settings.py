"""`yibao web`'s settings and command: a bad value stops start-up naming the setting."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from bot.app import SQLITE_FILE
from bot.render import render_macro
from bot.settings import SettingsError
from bot.web.app import open_store
from bot.web.links import web_link
from bot.web.settings import KEY_FILE, load_web_settings

from .citizen import WebCitizen
from .conftest import serve

ROOT = Path(__file__).resolve().parents[2]
WEB_ENV = ("WEB_HOST", "WEB_PORT", "WEB_VOLUNTEER_TOKEN", "WEB_HTTPS", "WEB_SESSION_KEY")


@pytest.fixture(autouse=True)
def clean(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in (*WEB_ENV, "REDIS_URL", "DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("WEB_PORT", "70000"),
        ("WEB_PORT", "http"),
        ("WEB_VOLUNTEER_TOKEN", "short"),
        ("WEB_SESSION_KEY", "not-a-key"),
        ("WEB_HTTPS", "perhaps"),
    ],
)
def test_a_bad_value_names_its_setting(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=f"^{name}: "):
        load_web_settings()


def test_without_a_key_one_is_made_in_data_dir_and_kept(tmp_path: Path) -> None:
    settings = load_web_settings(data_dir=tmp_path / "data")
    key = settings.session_key()
    path = tmp_path / "data" / KEY_FILE
    assert path.stat().st_mode & 0o777 == 0o600
    assert len(key) == 32
    assert load_web_settings(data_dir=tmp_path / "data").session_key() == key


def test_with_redis_the_key_must_be_set(tmp_path: Path) -> None:
    settings = load_web_settings(redis_url="redis://127.0.0.1:1/0", data_dir=tmp_path)
    with pytest.raises(SettingsError, match=r"^WEB_SESSION_KEY is not set"):
        settings.session_key()


async def test_an_unreachable_redis_stops_start_up(tmp_path: Path) -> None:
    settings = load_web_settings(redis_url="redis://127.0.0.1:1/0", web_session_key="A" * 43)
    with pytest.raises(SettingsError, match=r"^REDIS_URL: "):
        await open_store(settings)


async def test_a_damaged_state_file_stops_start_up_and_is_left_alone(tmp_path: Path) -> None:
    state = tmp_path / "data" / SQLITE_FILE
    state.parent.mkdir()
    state.write_bytes(b"not a database at all")
    with pytest.raises(SettingsError, match=r"^DATA_DIR: "):
        await open_store(load_web_settings(data_dir=tmp_path / "data"))
    assert state.read_bytes() == b"not a database at all"


def test_the_command_refuses_a_bad_port_with_exit_2(tmp_path: Path) -> None:
    result = _web({"WEB_PORT": "0"}, tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().startswith("yibao web: WEB_PORT: ")


def _web(env: dict[str, str], folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.web"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=folder,
        env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT), **env},
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.slow
def test_the_command_serves_the_page_with_no_setting_at_all(tmp_path: Path) -> None:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.web", "--port", str(port)],
        cwd=tmp_path,
        env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT)},
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/?start=xizang-zh_Hans") as r:
                    html = r.read().decode()
                break
            except OSError:
                assert process.poll() is None, process.stderr.read() if process.stderr else ""
                assert time.monotonic() < deadline, "yibao web did not answer within 60 s"
                time.sleep(0.2)
        assert '<html lang="zh-Hans">' in html
        assert "西藏" in html
    finally:
        process.terminate()
        _, err = process.communicate(timeout=30)
    assert process.returncode == 0
    assert f"yibao web: open http://127.0.0.1:{port}/" in err
    assert (tmp_path / "data" / "yibao.sqlite3").exists()


@pytest.mark.parametrize(
    ("base", "link"),
    [
        ("https://yibao.example.org", "https://yibao.example.org/?start=xizang-bo"),
        ("https://example.org/yibao", "https://example.org/yibao/?start=xizang-bo"),
        ("http://10.0.0.5:8081/", "http://10.0.0.5:8081/?start=xizang-bo"),
    ],
)
def test_a_posters_web_link_names_region_and_language(base: str, link: str) -> None:
    assert web_link(base, "xizang", "bo") == link


@pytest.mark.parametrize(
    ("base", "region", "locale", "error"),
    [
        ("yibao.example.org", "xizang", "bo", "not a web address"),
        ("https://example.org/?x=1", "xizang", "bo", "not a web address"),
        ("https://example.org", "lhasa", "bo", "unknown region"),
        ("https://example.org", "xizang", "fr", "unknown locale"),
    ],
)
def test_a_bad_web_link_is_refused(base: str, region: str, locale: str, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        web_link(base, region, locale)


async def test_a_posters_web_link_opens_the_page_as_its_qr_code_says(tmp_path: Path) -> None:
    async with serve(data_dir=tmp_path) as (url, _), WebCitizen(url) as person:
        link = web_link(url, "tianjin", "zh_Hans")
        page = await person.open(link)
    assert page.lang == "zh-Hans"
    assert page.screens[0] == render_macro("messages.j2", "linked", "zh_Hans", "tianjin", "zh_Hans")
