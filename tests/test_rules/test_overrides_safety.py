"""A POLICY_OVERRIDES file cannot hurt: hostile or mistaken files are refused in one line.

Each refusal names the file, the key path and why (and the line where the YAML has one), as a
PolicyError from load_policies and as exit code 2 with one line on stderr, naming
POLICY_OVERRIDES, from every command that reads the file, the bot's start-up among them.
"""

from __future__ import annotations

import datetime as dt
import io
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import main
from rules import PolicyError, Profile, assess, load_policies
from rules.overrides import MAX_BYTES

DOCS = Path(__file__).parents[2] / "docs"
YIBAO = Path(sys.executable).with_name("yibao")

BILLION_LAUGHS = """\
a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]
i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]
"""

# (file content, what the message must contain besides the file's name)
HOSTILE: dict[str, tuple[str | bytes, list[str]]] = {
    "billion laughs": (BILLION_LAUGHS, ["line 1", "anchor (&a) is not allowed"]),
    "laughs inside a value": (
        "xizang:\n  aid.ratio: &x {1: 1.0}\n  cap.base: *x\n",
        ["line 2", "xizang.aid.ratio", "anchor (&x) is not allowed"],
    ),
    "an alias": ("xizang:\n  cap.base: *x\n", ["line 2", "xizang.cap.base", "alias (*x)"]),
    "a merge key": ("xizang:\n  <<: {cap.base: 1}\n", ["line 2", "xizang", "merge key"]),
    "GBK bytes": (
        "xizang:\n  # 西藏的封顶线\n  cap.base: 1\n".encode("gbk"),
        ["line 2", "is not UTF-8"],
    ),
    "a 50-digit amount": (
        "xizang:\n  cap.base: " + "9" * 50 + "\n",
        ["line 2", "xizang.cap.base", "50 digits"],
    ),
    "a 5000-digit amount": (
        "xizang:\n  cap.base: " + "9" * 5000 + "\n",
        ["line 2", "xizang.cap.base", "5000 digits"],
    ),
    "an amount beyond 10 million yuan": (
        "tianjin:\n  repair.contribution:\n    - {from: 2027-01-01, value: 10000001}\n",
        ["tianjin.repair.contribution", "10000001", "less than or equal to 10000000"],
    ),
    "a negative amount": (
        "tianjin:\n  cap.base: -400\n",
        ["tianjin.cap.base", "greater than or equal to 0"],
    ),
    "a negative month count": (
        "xizang:\n  waiting.fixed_months: -3\n",
        ["xizang.waiting.fixed_months", "greater than or equal to 0"],
    ),
    "an absurd month count": (
        "xizang:\n  waiting.fixed_months: 500\n",
        ["xizang.waiting.fixed_months", "less than or equal to 36"],
    ),
    "an absurd count of years": (
        "xizang:\n  cap.continuity_after_years: 1000\n",
        ["xizang.cap.continuity_after_years", "less than or equal to 50"],
    ),
    "NaN": (
        "xizang:\n  repair.contribution: .nan\n",
        ["line 2", "xizang.repair.contribution", ".nan is not a finite number"],
    ),
    "infinity": (
        "xizang:\n  cap.rise_ceiling_share: .inf\n",
        ["line 2", "xizang.cap.rise_ceiling_share", "not a finite number"],
    ),
    "minus infinity": (
        "xizang:\n  cap.base: -.inf\n",
        ["line 2", "xizang.cap.base", "not a finite number"],
    ),
    "a float too large to hold": (
        "xizang:\n  cap.fall_ceiling_share: 1.0e+400\n",
        ["line 2", "xizang.cap.fall_ceiling_share", "not a finite number"],
    ),
    "a year before 2000": (
        "xizang:\n  repair.contribution:\n    - {from: 1999-12-31, value: 400}\n",
        ["xizang.repair.contribution", "1999-12-31", "not between 2000 and 2100"],
    ),
    "a date as a number": (
        "xizang:\n  repair.contribution:\n    - {from: 0, value: 400}\n",
        ["xizang.repair.contribution", "not between 2000 and 2100"],
    ),
    "a day that does not exist": (
        "xizang:\n  repair.contribution:\n    - {from: 2027-02-30, value: 400}\n",
        ["line 3", "xizang.repair.contribution[0].from", "day is out of range"],
    ),
    "a policy given twice": (
        "xizang:\n  cap.base: 1\nxizang:\n  cap.step: 2\n",
        ["line 3", "xizang", "given twice (first on line 1)"],
    ),
    "a parameter given twice": (
        "tianjin:\n  cap.base: 400000\n  cap.step: 1000\n  cap.base: 500000\n",
        ["line 4", "tianjin.cap.base", "given twice (first on line 2)"],
    ),
    "a field of a dated value given twice": (
        "tianjin:\n  repair.contribution:\n    - {from: 2027-01-01, value: 400, value: 420}\n",
        ["line 3", "tianjin.repair.contribution[0].value", "given twice"],
    ),
    "a key given twice in a value": (
        "xizang-aid:\n  aid.ratio: {1: 1.0, 2: 0.9, 1: 0.5}\n",
        ["line 2", "xizang-aid.aid.ratio.1", "given twice"],
    ),
    "a list as a key": ("xizang:\n  ? [cap.base]\n  : 1\n", ["line 2", "plain value"]),
    "deep nesting": (
        "xizang:\n  cap.base: " + "[" * 5000 + "]" * 5000 + "\n",
        ["line 2", "xizang.cap.base[0]", "nested more than 8"],
    ),
    "not YAML": ("xizang:\n  cap.base: [1\n", ["line 3", "not valid YAML"]),
    "a control character": ("xizang:\n  cap.base: 1\x00\n", ["line 2", "#x0000 is not allowed"]),
}


def _write(path: Path, content: str | bytes) -> Path:
    if isinstance(content, str):
        content = content.encode("utf-8")
    path.write_bytes(content)
    return path


def _refusal(path: Path) -> str:
    with pytest.raises(PolicyError) as error:
        load_policies(path)
    return str(error.value)


@pytest.mark.parametrize("case", HOSTILE)
def test_a_hostile_file_is_refused_naming_the_key_and_why(tmp_path: Path, case: str) -> None:
    content, expected = HOSTILE[case]
    path = _write(tmp_path / "overrides.yaml", content)
    message = _refusal(path)
    assert message.startswith(f"{path}: "), message
    for part in expected:
        assert part in message, message
    assert "\n" not in message


def test_a_file_over_64_kib_is_refused_unread(tmp_path: Path) -> None:
    path = _write(tmp_path / "big.yaml", "xizang:\n  cap.base: 1\n" + "#" * MAX_BYTES + "\n")
    assert _refusal(path) == f"{path}: larger than 64 KiB: an override file sets a few values"


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "absent.yaml"
    assert _refusal(path) == f"{path}: cannot be read: No such file or directory"


def test_a_file_of_exactly_64_kib_with_sane_values_is_applied(tmp_path: Path) -> None:
    head = (
        "# 部署设置\n"
        "tianjin:\n"
        "  cap.base: 10000000                       # the largest amount allowed\n"
        "  repair.contribution:\n"
        '    - {from: 2027-01-01, value: 420, source: "2027年缴费通知"}\n'
        "xizang:\n"
        '  payment_period: "09-01/12-31"\n'
        "xizang-aid:\n"
        "  aid.ratio:\n"
        "    - {from: 2027-01-01, value: {1: 1.0, 2: 1.0, 3: 0.9, 4: 0.85}}\n"
    ).encode()
    padding = b"#" * (MAX_BYTES - len(head) - 1) + b"\n"
    path = _write(tmp_path / "overrides.yaml", head + padding)
    assert path.stat().st_size == MAX_BYTES
    policies = load_policies(path)
    profile = Profile(
        region="tianjin", benefit_year=2028, repair_years=1, today=dt.date(2027, 11, 1)
    )
    result = assess(profile, policies)
    assert result.cap.base == 10_000_000 and result.repair.cost_per_year == 420
    assert policies["xizang"].get("payment_period", dt.date(2027, 1, 1)) == "09-01/12-31"
    ratio = policies["xizang-aid"].get("aid.ratio", dt.date(2027, 6, 1))
    assert ratio == {1: 1.0, 2: 1.0, 3: 0.9, 4: 0.85}


@pytest.fixture
def hostile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """POLICY_OVERRIDES naming a file with a parameter given twice; the working directory
    holds no .env, and a bot token is set so that the bot's commands get as far as the file."""
    path = _write(tmp_path / "overrides.yaml", HOSTILE["a parameter given twice"][0])
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("POLICY_OVERRIDES", str(path))
    monkeypatch.setenv("BOT_TOKEN", "123456:ABC-DEF")
    monkeypatch.setenv("WEBHOOK_SECRET", "secret")
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    # Were the file not refused, nothing could reach Telegram: this port answers nothing.
    monkeypatch.setenv("TELEGRAM_API_BASE", "http://127.0.0.1:9")
    monkeypatch.setattr(sys, "stdin", io.StringIO('{"region": "tianjin", "benefit_year": 2027}'))
    return path


@pytest.mark.parametrize(
    ("argv", "prefix"),
    [
        (["assess"], "yibao assess: "),
        (["policy", "show", "tianjin"], "yibao policy show: "),
        (["batch", str(DOCS / "ledger-sample.csv"), "-o", "out.csv"], "yibao batch: "),
        (["run"], "yibao: "),
        (["webhook"], "yibao: "),
        (["chat"], "yibao: "),
    ],
)
def test_every_command_reading_the_file_stops_with_one_line(
    hostile: Path, argv: list[str], prefix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [
        f"{prefix}POLICY_OVERRIDES: {hostile}: line 4: tianjin.cap.base: "
        "the key is given twice (first on line 2): keep one"
    ]
    assert not (hostile.parent / "out.csv").exists()
    assert not (hostile.parent / "data").exists()  # the bot opened no state file


@pytest.mark.slow
@pytest.mark.parametrize("case", ["billion laughs", "GBK bytes", "a 50-digit amount", "NaN"])
def test_the_bot_does_not_start_and_prints_no_traceback(tmp_path: Path, case: str) -> None:
    path = _write(tmp_path / "overrides.yaml", HOSTILE[case][0])
    command = [str(YIBAO)] if YIBAO.exists() else [sys.executable, "-m", "bot.cli"]
    environment = {
        "PATH": "/usr/bin:/bin",
        "POLICY_OVERRIDES": str(path),
        "BOT_TOKEN": "123456:ABC-DEF",
        "DATA_DIR": str(tmp_path / "data"),
        "TELEGRAM_API_BASE": "http://127.0.0.1:9",
    }
    done = subprocess.run(
        [*command, "run"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
        env=environment,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith(f"yibao: POLICY_OVERRIDES: {path}: "), done.stderr
    assert len(done.stderr.splitlines()) == 1 and "Traceback" not in done.stderr
