"""The ceremony's paper: the reportlab renderer read back with poppler, and the lp print queue
against a fake ``lp``.

The mailer checks read each page as a person would (``pdftotext -layout``): the page holds
its own component, in groups of four, and its check value, below the fold line only, and
nothing of any other component or of the combined key.
"""

from __future__ import annotations

import io
import random
import re
import shutil
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime
from functools import reduce
from pathlib import Path
from typing import Any

import pytest
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

from workstation.adapters import print_queue
from workstation.adapters.print_queue import LpPrintQueue
from workstation.adapters.printing_reportlab import ReportlabRenderer
from workstation.config import WorkstationConfig, load_config, save_config
from workstation.errors import BadInput, WorkstationError
from workstation.services.ports import AcknowledgementForm, CeremonyDocument, ComponentMailer

pytestmark = pytest.mark.skipif(
    not all(shutil.which(tool) for tool in ("pdftotext", "pdftoppm", "pdfinfo")),
    reason="needs poppler-utils (pdftotext, pdftoppm, pdfinfo)",
)

PRINTED = datetime(2024, 5, 14, 9, 41, 27, tzinfo=UTC)
FOLD = "fold and tear here"
HEX_LINE = re.compile(r"^\s*[0-9A-F]{1,4}( [0-9A-F]{1,4})*\s*$")
DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


# --- test data -----------------------------------------------------------------------------


def xor(parts: list[bytes]) -> bytes:
    return reduce(lambda a, b: bytes(x ^ y for x, y in zip(a, b, strict=True)), parts)


def grouped(value: bytes) -> str:
    digits = value.hex().upper()
    return " ".join(digits[i : i + 4] for i in range(0, len(digits), 4))


class Ceremony:
    """Mailers for one key, with the combined key and its KCV that must never be on them."""

    def __init__(
        self,
        label: str,
        algorithm: str,
        parts: list[bytes],
        kcvs: list[str],
        combined_kcv: str,
        custodians: list[str],
        *,
        kind: str = "component",
        threshold: int | None = None,
        first_serial: int = 1,
    ) -> None:
        self.parts = parts
        self.kcvs = kcvs
        self.combined = xor(parts)
        self.combined_kcv = combined_kcv
        self.mailers = [
            ComponentMailer(
                envelope_serial=f"KCW-E-{first_serial + n:06d}",
                custodian=custodians[n],
                key_label=label,
                algorithm=algorithm,
                index=n + 1,
                count=len(parts),
                secret=bytearray(part),
                secret_kcv=kcvs[n],
                ceremony_id="c3f1a9e07b2d4c55",
                workstation_id="KMS-WS-01",
                printed_at=PRINTED,
                kind=kind,
                threshold=threshold,
            )
            for n, part in enumerate(parts)
        ]


TDES = Ceremony(
    "ZMK acquirer 0042 to network",
    "TDES-3KEY",
    [
        bytes.fromhex("0123456789ABCDEFFEDCBA987654321089ABCDEF01234567"),
        bytes.fromhex("3C5D7E9FA1B2C3D4E5F60718293A4B5C6D7E8F90A1B2C3D4"),
        bytes.fromhex("F0E1D2C3B4A5968778695A4B3C2D1E0F1122334455667788"),
    ],
    ["08D7B4", "5A1C0E", "9E33F1"],
    "C0FFEE",
    ["Catherine Okonkwo", "Carl Custodian", "Cara Mbeki"],
)
# Component values from a seeded generator: patternless, and the same on every run.
_random = random.Random(20240514)
AES = Ceremony(
    "PIN encryption key, issuer 7",
    "AES-256",
    [_random.randbytes(32) for _ in range(2)],
    ["1B2D3F", "4C6E80"],
    "D00DAD",
    ["Dora Dlamini", "Erik Eriksson"],
    first_serial=11,
)
SHARES = Ceremony(
    "Workstation master key",
    "AES-256",
    [bytes([x]) + _random.randbytes(32) for x in range(1, 6)],  # x coordinate, then y
    ["A1B2C3", "D4E5F6", "071829", "3A4B5C", "6D7E8F"],
    "BADC0D",
    ["Fatima Haddad", "Zoë Łukasiewicz", "Gustav Holm", "Hana Novák", "Ivan Petrov"],
    kind="share",
    threshold=3,
    first_serial=21,
)


def pdf_pages(pdf: bytes | bytearray, tmp: Path, name: str) -> list[str]:
    path = tmp / f"{name}.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True
    ).stdout.decode()
    pages = text.split("\f")
    return pages[:-1] if pages and not pages[-1].strip() else pages


def pdf_title(pdf: bytes | bytearray, tmp: Path) -> dict[str, str]:
    path = tmp / "info.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdfinfo", str(path)], check=True, capture_output=True).stdout
    info: dict[str, str] = {}
    for line in out.decode().splitlines():
        key, _, value = line.partition(":")
        info[key.strip()] = value.strip()
    return info


def windows(value: bytes, width: int = 8) -> set[str]:
    """Every run of ``width`` hex digits of ``value``: a leak of any part of it shows."""
    digits = value.hex().upper()
    return {digits[i : i + width] for i in range(len(digits) - width + 1)}


def squeeze(text: str) -> str:
    return " ".join(text.split())


def rasterise(pdf: bytes | bytearray, tmp: Path, name: str) -> list[Path]:
    path = tmp / f"{name}.pdf"
    path.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "60", "-png", str(path), str(tmp / name)], check=True)
    return sorted(tmp.glob(f"{name}-*.png"))


def blank_page_png(tmp: Path) -> int:
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4)
    c.showPage()
    c.save()
    (png,) = rasterise(buf.getvalue(), tmp, "blank")
    return png.stat().st_size


# --- mailers -------------------------------------------------------------------------------


@pytest.mark.parametrize("ceremony", [TDES, AES, SHARES], ids=["tdes-3", "aes-256", "shares"])
def test_each_mailer_page_holds_only_its_own_component_below_the_fold(
    ceremony: Ceremony, tmp_path: Path
) -> None:
    pdf = ReportlabRenderer().component_mailers(ceremony.mailers)
    assert isinstance(pdf, bytearray)
    assert pdf.startswith(b"%PDF-")
    pages = pdf_pages(pdf, tmp_path, "mailers")
    assert len(pages) == len(ceremony.mailers)

    for n, (page, mailer) in enumerate(zip(pages, ceremony.mailers, strict=True)):
        others = [p for i, p in enumerate(ceremony.parts) if i != n]
        other_kcvs = [k for i, k in enumerate(ceremony.kcvs) if i != n]
        assert FOLD in page
        outer, inner = page.split(FOLD, 1)

        # The lines of hex groups on the page are exactly this component, on the inner part.
        hex_lines = [line.strip() for line in page.splitlines() if HEX_LINE.match(line)]
        assert " ".join(hex_lines) == grouped(ceremony.parts[n])
        assert all(len(line.split()) <= 4 for line in hex_lines)
        assert grouped(ceremony.parts[n]) in squeeze(inner)
        assert f"this {mailer.kind}: {ceremony.kcvs[n]}" in squeeze(inner)

        # The outer part: addressee, serial, holding; no key material, no check value.
        dense_outer = "".join(outer.split()).upper()
        assert not any(w in dense_outer for w in windows(ceremony.parts[n]))
        assert not any(HEX_LINE.match(line) for line in outer.splitlines())
        assert ceremony.kcvs[n] not in outer
        assert mailer.envelope_serial in outer
        assert mailer.custodian in outer or not DEJAVU.exists()
        assert "no key material" in outer

        # Nothing of the other components, nor of the combined key, anywhere on the page.
        dense = "".join(page.split()).upper()
        for other in [*others, ceremony.combined]:
            assert not any(w in dense for w in windows(other))
        for kcv in [*other_kcvs, ceremony.combined_kcv]:
            assert kcv not in page

        holding = f"{mailer.kind.capitalize()} {mailer.index} of {mailer.count}"
        assert holding in outer
        assert f"{mailer.kind.capitalize()} number {mailer.index} of {mailer.count}" in inner
        if mailer.threshold:
            assert f"{holding} — any {mailer.threshold} recover" in outer
        assert "Inner part — open only at key entry. Do not copy." in inner
        assert "2024-05-14 09:41 UTC" in page
        assert mailer.ceremony_id in page and mailer.workstation_id in page
        for caption in ("CUSTODIAN SIGNATURE", "DATE / TIME", "WITNESS NAME AND SIGNATURE"):
            assert caption in outer


def test_mailer_metadata_names_the_envelope_and_nothing_secret(tmp_path: Path) -> None:
    renderer = ReportlabRenderer()
    single = renderer.component_mailers(TDES.mailers[:1])
    info = pdf_title(single, tmp_path)
    assert info["Title"] == "Component mailer KCW-E-000001"
    assert info["Pages"] == "1"
    everything = " ".join(info.values()).upper()
    for secret in [TDES.parts[0].hex().upper(), TDES.kcvs[0], TDES.combined_kcv]:
        assert secret not in everything
    several = pdf_title(renderer.component_mailers(TDES.mailers), tmp_path)
    assert several["Title"] == "Component mailers KCW-E-000001 to KCW-E-000003 (3)"


def test_mailer_pages_rasterise_to_real_images(tmp_path: Path) -> None:
    pdf = ReportlabRenderer().component_mailers(TDES.mailers + AES.mailers + SHARES.mailers)
    pngs = rasterise(pdf, tmp_path, "mailer")
    assert len(pngs) == 10
    blank = blank_page_png(tmp_path)
    for png in pngs:
        assert png.read_bytes().startswith(b"\x89PNG")
        assert png.stat().st_size > max(3 * blank, 8_000), png.name


def test_long_names_are_fitted_not_spilled(tmp_path: Path) -> None:
    long = replace(
        TDES.mailers[0],
        custodian="Maximiliane Alexandra Konstantinopoulou-Wittelsbach von Hohenberg",
        key_label="Zone master key for the acquirer host link 0042 to the national switch",
    )
    (page,) = pdf_pages(ReportlabRenderer().component_mailers([long]), tmp_path, "long")
    outer = page.split(FOLD, 1)[0]
    assert "Maximiliane" in outer
    assert "KCW-E-000001" in outer
    assert " ".join(line.strip() for line in page.splitlines() if HEX_LINE.match(line)) == (
        grouped(TDES.parts[0])
    )


# --- acknowledgement -----------------------------------------------------------------------


def ack_form(**changes: Any) -> AcknowledgementForm:
    form = AcknowledgementForm(
        envelope_serial="KCW-E-000002",
        bag_number="TEB-778812",
        custodian="Carl Custodian",
        key_label="ZMK acquirer 0042 to network",
        index=2,
        count=3,
        kind="component",
        event="received",
        history=(
            ("2024-05-14 09:41:12", "printed", "Olivia Officer, Carl Custodian"),
            ("2024-05-14 09:44:03", "sealed in bag TEB-778812", "Olivia Officer, Walter Witness"),
        ),
        workstation_id="KMS-WS-01",
        printed_at=PRINTED,
    )
    return replace(form, **changes)


def test_acknowledgement_form_states_the_custodians_undertaking(tmp_path: Path) -> None:
    forms = [ack_form(), ack_form(envelope_serial="KCW-E-000003", bag_number=None, history=())]
    pdf = ReportlabRenderer().acknowledgement_forms(forms)
    pages = pdf_pages(pdf, tmp_path, "ack")
    assert len(pages) == 2
    first, second = pages
    text = squeeze(first)
    for expected in (
        "Custodian acknowledgement",
        "KCW-E-000002",
        "TEB-778812",
        "Carl Custodian",
        "ZMK acquirer 0042 to network",
        "Component 2 of 3",
        "Event acknowledged received",
        "KMS-WS-01",
        "2024-05-14 09:41 UTC",
        "received the sealed envelope KCW-E-000002",
        "intact",
        "locked safe",
        "I will not disclose, copy",
        "may never hold another component or share of the same key",
        "2024-05-14 09:44:03 sealed in bag TEB-778812 Olivia Officer, Walter Witness",
        "Printed name",
        "Signature",
        "Date",
        "custodian",
        "witness",
    ):
        assert expected in text, expected
    assert "not yet sealed" in squeeze(second)
    assert "KCW-E-000003" in second
    assert "No earlier events." in second
    assert "KCW-E-000002" not in second
    assert pdf_title(pdf, tmp_path)["Title"] == (
        "Custodian acknowledgements KCW-E-000002 to KCW-E-000003"
    )
    pngs = rasterise(pdf, tmp_path, "ack")
    assert len(pngs) == 2
    assert all(p.stat().st_size > 3 * blank_page_png(tmp_path) for p in pngs)


def test_acknowledgement_of_a_share(tmp_path: Path) -> None:
    pdf = ReportlabRenderer().acknowledgement_forms(
        [ack_form(kind="share", index=4, count=5, key_label="Workstation master key")]
    )
    (page,) = pdf_pages(pdf, tmp_path, "ack-share")
    assert "Share 4 of 5" in page
    assert "share 4 of 5 of the key" in squeeze(page)


# --- ceremony record -----------------------------------------------------------------------


def ceremony_document(lines: int = 120) -> CeremonyDocument:
    steps = ("open", "generate", "print", "seal", "verify", "sign")
    return CeremonyDocument(
        ceremony_id="c3f1a9e07b2d4c55",
        title="Key component generation ceremony",
        script="generate-components",
        workstation_id="KMS-WS-01",
        key_label="ZMK acquirer 0042 to network",
        algorithm="TDES-3KEY",
        key_kcv="C0FFEE",
        started_at=PRINTED,
        completed_at=datetime(2024, 5, 14, 10, 58, 3, tzinfo=UTC),
        status="completed, verified",
        transcript=tuple(
            (
                f"2024-05-14 {9 + (41 + i) // 60:02d}:{(41 + i) % 60:02d}:07",
                steps[i % len(steps)],
                "Olivia Officer, Catherine Okonkwo",
                f"Entry {i:03d}: the officer read step {steps[i % len(steps)]} aloud; envelope "
                f"KCW-E-{i:06d} checked against the register and sealed in its bag",
            )
            for i in range(lines)
        ),
        transcript_hash="9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        participants=(
            ("Olivia Officer", "security officer", "a1b2c3d4e5f6", "signed with card (verified)"),
            ("Catherine Okonkwo", "custodian 1", "0f1e2d3c4b5a", "signed with card (verified)"),
            ("Carl Custodian", "custodian 2", "99aa88bb77cc", "not signed"),
        ),
        printed_at=PRINTED,
    )


def test_ceremony_record_spans_pages_with_numbers_and_repeated_header(tmp_path: Path) -> None:
    record = ceremony_document()
    pdf = ReportlabRenderer().ceremony_record(record)
    pages = pdf_pages(pdf, tmp_path, "record")
    total = len(pages)
    assert total >= 3
    for number, page in enumerate(pages, 1):
        assert f"page {number} of {total}" in page
        assert "Ceremony c3f1a9e07b2d4c55" in page
        if "Entry " in page:
            assert "Time (UTC)" in page, f"page {number} lacks the transcript header"

    everything = "\n".join(pages)
    text = squeeze(everything)
    first = squeeze(pages[0])
    for expected in (
        "Key component generation ceremony",
        "Ceremony record",
        "Ceremony c3f1a9e07b2d4c55",
        "Script generate-components",
        "Workstation KMS-WS-01",
        "Key label ZMK acquirer 0042 to network",
        "Algorithm TDES-3KEY",
        "C0FFEE (of the combined key)",
        "Status completed, verified",
        "Started 2024-05-14 09:41 UTC",
        "Completed 2024-05-14 10:58 UTC",
    ):
        assert expected in first, expected
    for i in range(120):
        assert f"Entry {i:03d}:" in everything
    assert text.index("Entry 000:") < text.index("Entry 119:")
    assert "9f86 d081 884c 7d65 9a2f eaa0 c55a d015" in text
    assert "a3bf 4f1b 2b0b 822c d15d 6c15 b0f0 0a08" in text
    for name, role, card, status in record.participants:
        assert f"{name} {role} {card} {status}" in text
    signatures = squeeze(pages[-1])
    assert "Signatures" in signatures
    for name, role, _card, _status in record.participants:
        assert f"{role} {name}" in signatures
    assert pdf_title(pdf, tmp_path)["Title"] == "Ceremony record c3f1a9e07b2d4c55"
    pngs = rasterise(pdf, tmp_path, "record")
    assert len(pngs) == total
    assert pngs[0].stat().st_size > 3 * blank_page_png(tmp_path)


def test_ceremony_record_without_key_or_completion(tmp_path: Path) -> None:
    record = replace(
        ceremony_document(lines=3),
        key_label=None,
        algorithm=None,
        key_kcv=None,
        completed_at=None,
        status="aborted",
    )
    (page,) = pdf_pages(ReportlabRenderer().ceremony_record(record), tmp_path, "short")
    text = squeeze(page)
    assert "Completed not completed" in text
    assert "Status aborted" in text
    assert "Key check value" not in text
    assert "page 1 of 1" in text


def test_markup_in_names_is_printed_literally(tmp_path: Path) -> None:
    record = replace(
        ceremony_document(lines=2),
        participants=(("A <b>&amp; B", "custodian", "c0", "not signed"),),
    )
    pages = pdf_pages(ReportlabRenderer().ceremony_record(record), tmp_path, "markup")
    assert "A <b>&amp; B" in "\n".join(pages)


# --- print queue ---------------------------------------------------------------------------

FAKE_LP = """#!{python}
import os, sys
out = os.environ["KCW_FAKE_LP_OUT"]
with open(out, "wb") as f:
    f.write(sys.stdin.buffer.read())
with open(out + ".args", "w") as f:
    f.write("\\n".join(sys.argv[1:]))
with open(out + ".locale", "w") as f:
    f.write(os.environ.get("LC_ALL", ""))
print("request id is kcw-test-7 (1 file(s))")
"""

FAILING_LP = """#!{python}
import sys
sys.stdin.buffer.read()
sys.stderr.write({message!r} + "\\n")
sys.exit({code})
"""


def script(path: Path, text: str, **values: object) -> Path:
    path.write_text(text.format(python=sys.executable, **values))
    path.chmod(0o755)
    return path


def sample_pdf() -> bytearray:
    # Every byte value, so a pipe that mangles binary (text mode, newline translation) shows.
    return bytearray(b"%PDF-1.4\n" + bytes(range(256)) * 64 + b"\r\n%%EOF\n")


def test_lp_gets_the_pdf_on_stdin_and_the_job_id_is_returned(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "spool" / "job"
    out.parent.mkdir()
    monkeypatch.setenv("KCW_FAKE_LP_OUT", str(out))
    lp = script(tmp_path / "lp", FAKE_LP)
    queue = LpPrintQueue("kms-laser", command=str(lp))
    assert queue.printer == "kms-laser"
    pdf = sample_pdf()

    job = queue.submit(pdf, title="Mailer KCW-E-000042")

    assert job == "kcw-test-7"
    assert out.read_bytes() == bytes(pdf)
    assert out.with_name("job.args").read_text().split("\n") == [
        "-d",
        "kms-laser",
        "-t",
        "Mailer KCW-E-000042",
        "-",
    ]
    assert out.with_name("job.locale").read_text() == "C"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lp", "spool"]  # no temp file


def test_no_printer_configured_is_bad_input() -> None:
    queue = LpPrintQueue(None)
    assert queue.printer is None
    with pytest.raises(BadInput, match="No printer is configured"):
        queue.submit(sample_pdf(), title="x")


def test_an_option_like_printer_name_is_refused(tmp_path: Path) -> None:
    queue = LpPrintQueue("-oraw", command=str(tmp_path / "lp"))
    with pytest.raises(BadInput, match="not a valid CUPS printer name"):
        queue.submit(sample_pdf(), title="x")


@pytest.mark.parametrize(
    ("stderr", "code", "message"),
    [
        ("lp: The printer or class does not exist.", 1, "'ghost' is not known to the print"),
        ("lp: Error - scheduler not responding.", 1, "(CUPS) is not running"),
        ('lp: Destination "ghost" is not accepting jobs.', 1, "is not accepting jobs"),
        ("lp: something odd happened", 2, "Printing on 'ghost' failed: lp: something odd"),
    ],
)
def test_lp_refusals_become_clear_workstation_errors(
    tmp_path: Path, stderr: str, code: int, message: str
) -> None:
    lp = script(tmp_path / "lp", FAILING_LP, message=stderr, code=code)
    pdf = sample_pdf()
    with pytest.raises(WorkstationError) as caught:
        LpPrintQueue("ghost", command=str(lp)).submit(pdf, title="Mailer KCW-E-000001")
    error = caught.value
    assert message in error.user_message()
    assert error.detail == stderr
    assert "%PDF" not in error.user_message() + (error.detail or "")


def test_missing_lp_names_the_debian_package(tmp_path: Path) -> None:
    queue = LpPrintQueue("kms-laser", command=str(tmp_path / "bin" / "lp"))
    with pytest.raises(WorkstationError) as caught:
        queue.submit(sample_pdf(), title="x")
    assert caught.value.user_message() == (
        f"The print command '{tmp_path / 'bin' / 'lp'}' is not installed "
        "(Debian package cups-client)."
    )
    other = LpPrintQueue("kms-laser", command=str(tmp_path / "bin" / "lpr-custom"))
    with pytest.raises(WorkstationError, match="was not found"):
        other.submit(sample_pdf(), title="x")


def test_an_lp_that_hangs_times_out_with_advice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hang = script(
        tmp_path / "lp", "#!{python}\nimport sys, time\nsys.stdin.buffer.read()\ntime.sleep(60)\n"
    )
    monkeypatch.setattr(print_queue, "SUBMIT_TIMEOUT", 0.5)
    with pytest.raises(WorkstationError, match="did not answer within") as caught:
        LpPrintQueue("kms-laser", command=str(hang)).submit(sample_pdf(), title="x")
    assert "lpstat -o" in caught.value.user_message()


def test_lp_without_a_request_id_still_counts_as_queued(tmp_path: Path) -> None:
    quiet = script(tmp_path / "lp", "#!{python}\nimport sys\nsys.stdin.buffer.read()\n")
    assert LpPrintQueue("kms-laser", command=str(quiet)).submit(sample_pdf(), title="x") == (
        "unknown"
    )


# --- configuration -------------------------------------------------------------------------


def test_printing_configuration_round_trips(tmp_path: Path) -> None:
    default = load_config(tmp_path)
    assert default.printer is None and default.print_command == "lp"
    config = WorkstationConfig(
        home=tmp_path, hsm=None, database=tmp_path / "workstation.db", printer="kms-laser"
    )
    config.print_command = "/usr/bin/lp"
    save_config(config)
    assert "[printing]" in config.path.read_text()
    again = load_config(tmp_path)
    assert again.printer == "kms-laser"
    assert again.print_command == "/usr/bin/lp"
    again.printer = None
    save_config(again)
    assert load_config(tmp_path).printer is None
