"""An import's row errors and mapping mistakes in the office's language, on the console's import page.

The import writes them in English (crm/imports/rows.py, crm/imports/run.py: `row 12, column email: ...`), and the
API and the rejected rows' file keep them so. The console reads them back: the row and the column, then what was
wrong, as the import says it or as pydantic does (the template checks' words, `checks_said`). A message of no known
shape is shown as it is.
"""

from __future__ import annotations

from collections.abc import Callable

from api.console.checks_said import check_in
from processes.read_back import english_pattern, written_from

ITALIAN_IMPORT_ERRORS: dict[str, str] = {
    "row {row}, column *: {message}": "riga {row}: {message}",  # the row as a whole (its number of values)
    "row {row}, column {column}: {message}": "riga {row}, colonna {column}: {message}",
    "'{value}' is not true or false": "'{value}' non è né sì né no",
    "{count} values for {n} columns": "{count} valori per {n} colonne",
    "holds the NUL character (\\0), which no text may hold": "contiene il carattere NUL (\\0), che nessun testo può "
                                                             "contenere",
    "a case needs a name of 1 to 300 characters": "una pratica richiede un nome da 1 a 300 caratteri",
    "at most 50 tags of {n} characters each": "al massimo 50 etichette di {n} caratteri ciascuna",
    "'{value}' is not open or closed": "'{value}' non è né aperta né chiusa",
    "no contact with the email {email}": "nessun contatto con l'email {email}",
    "no user '{name}'": "nessun utente '{name}'",
    "expected a phone number: digits, with spaces and + ( ) - . / if you like, such as +39 06 1234 5678 (an "
    "extension after ext or int: +39 06 1234 5678 int 12)":  # also the record and user forms' (processes.sent_values)
        "un numero di telefono: cifre, con spazi e + ( ) - . / se servono, come +39 06 1234 5678 (un interno dopo "
        "int: +39 06 1234 5678 int 12)",
    # email-validator's reason after it, in English only: left out, as the record form does (console/refusals.py)
    "value is not a valid email address: {reason}": "non è un indirizzo email valido",
    "mapping: no column '{name}' in the file (its columns: {columns})":
        "associazione: nessuna colonna '{name}' nel file (le sue colonne: {columns})",
    "mapping: columns '{first}' and '{second}' both map to '{name}'":
        "associazione: le colonne '{first}' e '{second}' vanno entrambe in '{name}'",
    "mapping: columns '{first}' and '{second}' both map to '{name}' (by their names: a mapping names the one to "
    "read)": "associazione: le colonne '{first}' e '{second}' vanno entrambe in '{name}' (per i loro nomi: "
             "un'associazione indica quale leggere)",
    "mapping: column '{column}' maps to '{name}', which is not a field of {kind} ({fields})":
        "associazione: la colonna '{column}' va in '{name}', che non è un campo di {kind} ({fields})",
    "mapping: no column maps to '{name}', which every row needs":
        "associazione: nessuna colonna va in '{name}', che serve a ogni riga",
}
_GROUPS = {"row": r"\d+", "n": r"\d+", "count": r"\d+", "name": r"[^']*", "first": r"[^']*", "second": r"[^']*",
           "column": r".*?"}
_ROWS = [(text, english_pattern(text, _GROUPS)) for text in ITALIAN_IMPORT_ERRORS if text.startswith("row ")]
_MESSAGES = [(text, english_pattern(text, _GROUPS)) for text in ITALIAN_IMPORT_ERRORS if not text.startswith("row ")]


def import_error_in(message: str, _: Callable[[str], str]) -> str:
    """One row error or mapping mistake as `_` (the console's translator) says it; mistakes joined by `; ` each."""
    if (found := written_from(message, _ROWS)) is not None:
        english, values = found
        return _(english).format(**{**values, "message": _what(values["message"], _)})
    return "; ".join(_what(part, _) for part in message.split("; "))


def _what(message: str, _: Callable[[str], str]) -> str:
    if (found := written_from(message, _MESSAGES)) is None:
        return check_in(message, _)
    english, values = found
    return _(english).format(**values)
