"""The one table renderer every command prints with: header, alignment, fitting with "…", colour on/off."""

from __future__ import annotations

import pytest

from dispatcher.render.table import Column, Output, cell_width, render

NAME, ROLE, TRIES = Column("NAME"), Column("ROLE"), Column("TRIES", align="right", fixed=True)
OUTCOME = Column("OUTCOME", fixed=True, colours={"delivered": "green", "failed-permanent": "red"})
ROWS = [("Senior Technical Specialist 1", "role:senior-technical-specialist", "delivered", 1),
        ("CTO", "role:cto", "failed-permanent", 12)]


@pytest.mark.parametrize("out, expected", [
    (Output(), [  # not a terminal: full width, every character, no colour
        "NAME                           ROLE                              OUTCOME           TRIES",
        "Senior Technical Specialist 1  role:senior-technical-specialist  delivered             1",
        "CTO                            role:cto                          failed-permanent     12"]),
    (Output(width=60), [  # a terminal of 60 columns: the widest cuttable column gives way first
        "NAME               ROLE              OUTCOME           TRIES",
        "Senior Technical…  role:senior-tec…  delivered             1",
        "CTO                role:cto          failed-permanent     12"]),
    (Output(width=40), [  # narrower than fits: cut columns stop at a readable floor, fixed ones stay whole
        "NAME     ROLE    OUTCOME           TRIES",
        "Senior…  role:…  delivered             1",
        "CTO      role:…  failed-permanent     12"]),
], ids=["pipe", "terminal-60", "terminal-too-narrow"])
def test_a_table_fits_the_width_it_is_given(out: Output, expected: list[str]) -> None:
    assert render([NAME, ROLE, OUTCOME, TRIES], ROWS, out).splitlines() == expected


def test_fitted_lines_never_exceed_the_terminal_when_they_can_fit() -> None:
    for width in range(50, 100):
        lines = render([NAME, ROLE, OUTCOME, TRIES], ROWS, Output(width=width)).splitlines()
        assert max(cell_width(line) for line in lines) <= width, width


@pytest.mark.parametrize("colour, expected", [
    (True, ["\x1b[1mNAME\x1b[0m  \x1b[1mOUTCOME\x1b[0m",
            "CTO   \x1b[32mdelivered\x1b[0m",
            "Ann   \x1b[31mfailed-permanent\x1b[0m",
            "Bob   pending"]),
    (False, ["NAME  OUTCOME", "CTO   delivered", "Ann   failed-permanent", "Bob   pending"]),
], ids=["colour", "no-colour"])
def test_colour_is_by_cell_value_and_never_moves_a_column(colour: bool, expected: list[str]) -> None:
    rows = [("CTO", "delivered"), ("Ann", "failed-permanent"), ("Bob", "pending")]
    assert render([NAME, OUTCOME], rows, Output(width=80, colour=colour)).splitlines() == expected


@pytest.mark.parametrize("terminal, columns, no_color, expected", [
    (True, 100, None, Output(100, True)),
    (True, 100, "1", Output(100, False)),  # NO_COLOR set: fitted, never coloured
    (True, 100, "", Output(100, True)),  # NO_COLOR empty counts as unset (no-color.org)
    (False, 100, None, Output(None, False)),  # a pipe: full width, no colour
    (False, 100, "1", Output(None, False)),
    (True, 5, None, Output(20, True)),  # an absurd width is not taken literally
])
def test_where_the_output_goes_decides_width_and_colour(terminal: bool, columns: int, no_color: str | None,
                                                        expected: Output) -> None:
    assert Output.detect(terminal=terminal, columns=columns, no_color=no_color) == expected


@pytest.mark.parametrize("rows, expected", [
    ([("José", "x")], ["NAME  ROLE", "José  x"]),
    ([("e\u0301cole", "x")], ["NAME   ROLE", "e\u0301cole  x"]),  # a combining accent takes no cell
    ([("山田太郎", "x")], ["NAME      ROLE", "山田太郎  x"]),  # wide characters take two cells
    ([("line one\nline two", "x")], ["NAME               ROLE", "line one line two  x"]),
    ([("", "")], ["NAME  ROLE", ""]),
], ids=["accent", "combining", "wide", "newline", "empty"])
def test_alignment_counts_terminal_cells_not_characters(rows: list[tuple[str, str]], expected: list[str]) -> None:
    assert render([NAME, ROLE], rows).split("\n") == expected


def test_a_wide_character_is_never_cut_in_half() -> None:
    lines = render([NAME, ROLE], [("山田太郎山田太郎", "x")], Output(width=14)).splitlines()
    assert lines[1] == "山田太…   x"  # 8 cells for the name: 山田太 and "…" take 7, half of 郎 would not fit


def test_secrets_are_masked_before_a_cell_is_cut() -> None:
    secret = "xoxb-1234567890-abcdefghij"
    out = Output(width=30, secrets=(secret,))
    text = render([NAME, ROLE], [("slack", f"token {secret} refused by the provider")], out)
    assert "xoxb" not in text and "1234" not in text


def test_an_indent_counts_against_the_width() -> None:
    lines = render([NAME, ROLE], ROWS[:1], Output(width=40), indent="  ").splitlines()
    assert all(line.startswith("  ") and cell_width(line) <= 40 for line in lines)
