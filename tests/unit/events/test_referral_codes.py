"""Referral codes: 12 Crockford base32 symbols of a sha256, printed in fours, read back forgivingly but never
guessed at."""

from __future__ import annotations

import hashlib

import pytest

from events.referral_codes import ALPHABET, normalise_code, referral_code


def by_bit_string(patient_id: str) -> str:
    """An independent reading of the contract: the digest's first 60 bits, five at a time."""
    bits = "".join(f"{byte:08b}" for byte in hashlib.sha256(b"careloop-referral/v1:" + patient_id.encode()).digest())
    symbols = "".join(ALPHABET[int(bits[i : i + 5], 2)] for i in range(0, 60, 5))
    return f"{symbols[:4]}-{symbols[4:8]}-{symbols[8:]}"


def test_the_code_of_a_patient_id_is_the_known_vector() -> None:
    assert referral_code("P1") == "JMG9-R41S-C57H"
    assert referral_code("patient-42") == "1XQ2-TVWC-TPGB"


@pytest.mark.parametrize("patient_id", ["P1", "p-000017", "病人-7", "", "a" * 200])
def test_the_code_is_the_first_60_bits_of_the_digest_in_crockford_symbols(patient_id: str) -> None:
    code = referral_code(patient_id)

    assert code == by_bit_string(patient_id)
    assert len(code) == 14 and code[4] == code[9] == "-"
    assert set(code.replace("-", "")) <= set(ALPHABET)


def test_different_patients_get_different_codes() -> None:
    codes = {referral_code(f"P{n}") for n in range(2000)}

    assert len(codes) == 2000


def test_a_printed_code_normalises_to_itself() -> None:
    code = referral_code("P1")

    assert normalise_code(code) == code


@pytest.mark.parametrize(
    "typed",
    ["jmg9-r41s-c57h", "JMG9R41SC57H", " JMG9 R41S C57H ", "jmg9 - r41s - c57h", "J-M-G-9-R-4-1-S-C-5-7-H"],
)
def test_case_hyphens_and_spaces_do_not_matter(typed: str) -> None:
    assert normalise_code(typed) == "JMG9-R41S-C57H"


def test_o_is_read_as_zero_and_i_and_l_as_one() -> None:
    assert normalise_code("OOOO-IIII-LLLL") == "0000-1111-1111"
    assert normalise_code("1xq2-tvwc-tpgb".replace("1", "l")) == "1XQ2-TVWC-TPGB"
    assert normalise_code("1XQ2-TVWC-TPGB".replace("1", "I")) == "1XQ2-TVWC-TPGB"


@pytest.mark.parametrize(
    "typed",
    [
        "JMG9-R41S-C57",  # 11 symbols
        "JMG9-R41S-C57HH",  # 13 symbols
        "",
        "----",
        "JMG9-R41S-C57U",  # U is not a Crockford symbol
        "JMG9-R41S-C57*",
        "JMG9_R41S_C57H",  # only hyphens and spaces separate groups
        "JMG9\tR41S\tC57H",
        "ＪＭＧ9-R41S-C57H",  # full-width letters are not guessed at
        "JMG9-R41S-C5ß",  # 'ß'.upper() is 'SS': would make 12 symbols
    ],
)
def test_text_that_is_not_twelve_crockford_symbols_is_not_a_code(typed: str) -> None:
    assert normalise_code(typed) is None
