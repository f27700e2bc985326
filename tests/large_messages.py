"""Large but ordinary hospital messages, built for the size-limit tests: an ORU^R01 carrying a long pathology
report as lab systems send it (one FT OBX-5 whose lines are joined by the \\.br\\ escape), for any size."""

from __future__ import annotations

REPORT_LINE = (
    "Microscopic: sections show colonic mucosa with preserved crypt architecture; no dysplasia or malignancy is "
    "identified in the submitted levels, and the resection margins are free of tumour."
)


def report_text(size: int) -> str:
    """About ``size`` bytes of report lines, joined by HL7's line-break escape."""
    lines = [f"{n:05d} {REPORT_LINE}" for n in range(size // (len(REPORT_LINE) + 11) + 1)]
    return "\\.br\\".join(lines)


def pathology_report(control_id: str, size: int, patient: str = "PAT-0001") -> bytes:
    """An ORU^R01 of about ``size`` bytes in all: one OBR, one FT OBX with the report."""
    segments = [
        f"MSH|^~\\&|PATHLAB|GENHOSP|CARELOOP|GENHOSP|20260301101500+0800||ORU^R01^ORU_R01|{control_id}|P|2.5.1",
        f"PID|1||{patient}^^^GENHOSP^MR||WANG^LI^^^^^L||19700412|F",
        "PV1|1|O|ENDO^^^GENHOSP||||D-77^CHEN^MING",
        f"OBR|1|ORD-{control_id}|FIL-{control_id}|22634-0^Pathology report^LN|||20260301090000+0800",
        f"OBX|1|FT|22634-0^Pathology report^LN||{report_text(size)}||||||F|||20260301100000+0800",
    ]
    return ("\r".join(segments) + "\r").encode()


def glucose_result(control_id: str, patient: str = "PAT-0002") -> bytes:
    """A small ORU^R01: one fasting glucose."""
    segments = [
        f"MSH|^~\\&|LAB|GENHOSP|CARELOOP|GENHOSP|20260301101500+0800||ORU^R01^ORU_R01|{control_id}|P|2.5.1",
        f"PID|1||{patient}^^^GENHOSP^MR||LI^NA^^^^^L||19651103|F",
        f"OBR|1|ORD-{control_id}|FIL-{control_id}|1558-6^Fasting glucose^LN|||20260301080000+0800",
        "OBX|1|NM|1558-6^Fasting glucose [Mass/volume] in Serum or Plasma^LN||126|mg/dL|70-99|H|||F",
    ]
    return ("\r".join(segments) + "\r").encode()


def monitor_export(control_id: str, readings: int, patient: str = "PAT-0003") -> bytes:
    """An ORU^R01 whose TX OBX-5 carries a bedside monitor's CSV export, one quoted row per repetition: JSON
    escapes each quote, so its event is larger than the message."""
    rows = "~".join(f'"{8 + n // 60:02d}:{n % 60:02d}","72","98","118/76"' for n in range(readings))
    segments = [
        f"MSH|^~\\&|MONITOR|GENHOSP|CARELOOP|GENHOSP|20260301101500+0800||ORU^R01^ORU_R01|{control_id}|P|2.5.1",
        f"PID|1||{patient}^^^GENHOSP^MR||ZHAO^WEI^^^^^L||19581120|M",
        f"OBR|1|ORD-{control_id}|FIL-{control_id}|8716-3^Vital signs^LN|||20260301080000+0800",
        f'OBX|1|TX|8716-3^Vital signs^LN||"time","HR","SpO2","BP"~{rows}||||||F',
    ]
    return ("\r".join(segments) + "\r").encode()
