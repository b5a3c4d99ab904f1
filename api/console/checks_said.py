"""What the checks of a template, a pipeline or a request template say, in the office's language, on the console's
editors.

The checks write English (processes/validation.py, processes/text_checks.py and the others; pydantic's words for a
value of the wrong kind), and the API keeps it. The console reads the most common messages back: each English text
below, its placeholders as values kept as they are (a name, a line, a number), and a "did you mean" hint said in
the office's language wherever it stands. A message of no known shape is shown as it is.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from processes.read_back import english_pattern, written_from

# the English as the checks write it (`{hint}`: a "did you mean" suffix, or nothing), and its Italian
ITALIAN_CHECKS: dict[str, str] = {
    "required field missing": "campo obbligatorio mancante",
    "unknown field": "campo sconosciuto",
    "unknown action '{name}'{hint}; actions are {names}": "azione sconosciuta '{name}'{hint}; le azioni sono {names}",
    "unknown variable '{name}'{hint}": "variabile sconosciuta '{name}'{hint}",
    "unknown attribute '{name}'{hint}; a date has {names} (or format it with | date, | time, | datetime)":
        "attributo sconosciuto '{name}'{hint}; una data ha {names} (oppure formattala con | date, | time, | datetime)",
    "unknown attribute '{name}' of a phase{hint}; phases have {names}":
        "attributo sconosciuto '{name}' di una fase{hint}; le fasi hanno {names}",
    "unknown attribute '{name}'{hint}": "attributo sconosciuto '{name}'{hint}",
    "unknown filter '{name}' at line {line}{hint}": "filtro sconosciuto '{name}' alla riga {line}{hint}",
    "unknown test '{name}' at line {line}{hint}": "test sconosciuto '{name}' alla riga {line}{hint}",
    "unknown phase '{name}'{hint}": "fase sconosciuta '{name}'{hint}",
    "unknown user '{name}'{hint}": "utente sconosciuto '{name}'{hint}",
    "unknown template '{name}'{hint}": "modello sconosciuto '{name}'{hint}",
    "duplicate phase key '{name}' (also phases[{index}])": "chiave di fase '{name}' ripetuta (anche in phases[{index}])",
    "template syntax error at line {line}: {error}": "errore di sintassi alla riga {line}: {error}",
    "condition syntax error: {error}": "errore di sintassi nella condizione: {error}",
    "phase '{name}' can never reach the end of the process (a loop with no way out)":
        "la fase '{name}' non arriva mai alla fine del processo (un ciclo senza uscita)",
    "no webhook endpoint '{name}' in WEBHOOK_ENDPOINTS (none is configured)":
        "nessun endpoint webhook '{name}' in WEBHOOK_ENDPOINTS (non ne è configurato nessuno)",
    "no webhook endpoint '{name}' in WEBHOOK_ENDPOINTS{hint}": "nessun endpoint webhook '{name}' in "
                                                               "WEBHOOK_ENDPOINTS{hint}",
    "no client request template '{name}' (none is saved)":
        "nessun modello di richiesta al cliente '{name}' (non ne è salvato nessuno)",
    "no client request template '{name}'{hint}": "nessun modello di richiesta al cliente '{name}'{hint}",
    "line {line}: refused: loops would run {runs} times (the limit is {n})":
        "riga {line}: rifiutato: i cicli girerebbero {runs} volte (il limite è {n})",
    "line {line}: more than {n} loops inside each other": "riga {line}: più di {n} cicli uno dentro l'altro",
    "line {line}: nested more than {n} levels deep (brackets, blocks, operators or filters inside each other)":
        "riga {line}: annidato oltre {n} livelli (parentesi, blocchi, operatori o filtri uno dentro l'altro)",
    "access to '{name}' at line {line} is not allowed (names starting with '_' are private)":
        "l'accesso a '{name}' alla riga {line} non è consentito (i nomi che iniziano con '_' sono privati)",
    "line {line}: macro '{name}' calls itself{through}; a macro may not call itself":
        "riga {line}: la macro '{name}' chiama se stessa{through}; una macro non può chiamare se stessa",
    "'{to}' is not a valid phone number in international format (+39 333 123 4567)":
        "'{to}' non è un numero di telefono valido in formato internazionale (+39 333 123 4567)",
    "line {line}: '.{name}' is not allowed on a text (every render would refuse it); a text may call {names}":
        "riga {line}: '.{name}' non è consentito su un testo (ogni resa lo rifiuterebbe); un testo può chiamare {names}",
    "line {line}: '.{name}()' is not allowed: text cannot change values (build a new one instead: `l + [x]`, "
    "`dict(d, k=v)`)": "riga {line}: '.{name}()' non è consentito: un testo non può cambiare i valori (costruiscine "
                       "uno nuovo: `l + [x]`, `dict(d, k=v)`)",
    "line {line}: {filter}: unknown argument '{name}'{hint}": "riga {line}: {filter}: argomento sconosciuto '{name}'{hint}",
    "line {line}: {filter}: unknown currency {value} (use a code such as EUR, CHF, USD)":
        "riga {line}: {filter}: valuta sconosciuta {value} (usa un codice come EUR, CHF, USD)",
    "line {line}: {filter}: digits must be a whole number from 0 to {n}":
        "riga {line}: {filter}: digits deve essere un numero intero da 0 a {n}",
    "'{to}' is neither a phone number nor one of {names}": "'{to}' non è né un numero di telefono né uno tra {names}",
    "'{{% {tag} %}}' at line {line} is not allowed (text cannot load other templates)":
        "'{{% {tag} %}}' alla riga {line} non è consentito (un testo non può caricare altri modelli)",
    "the text is {count} segments ({units} {encoding} characters) before any value; the limit is {n} segments":
        "il testo occupa {count} segmenti ({units} caratteri {encoding}) prima di qualsiasi valore; il limite è {n} "
        "segmenti",
    "does not render JSON ({error} at line {line}, taking each {{{{ }}}} for a value); write values as "
    "{{{{ record.title | tojson }}}}": "non produce JSON ({error} alla riga {line}, contando ogni {{{{ }}}} come un "
                                       "valore); scrivi i valori come {{{{ record.title | tojson }}}}",
    # a text tried at save that every render would refuse (processes/trials.py), and why (processes/sandbox.py,
    # processes/rendering.py, renderer/): `reason` is read back in turn
    "line {line}: always fails: {error}": "riga {line}: fallisce sempre: {error}",
    "line {line}: refused: {reason}": "riga {line}: rifiutato: {reason}",
    "refused: {reason}": "rifiutato: {reason}",
    "value too large ({size} characters; the limit is {n})": "valore troppo grande ({size} caratteri; il limite è {n})",
    "number too large": "numero troppo grande",
    "argument {value} is too large (the limit is {n})": "argomento {value} troppo grande (il limite è {n})",
    "a text argument of {name} is too long (the limit is {n})": "un argomento di testo di {name} è troppo lungo "
                                                                "(il limite è {n})",
    "{name} would make a value of {size} characters (the limit is {n})":
        "{name} produrrebbe un valore di {size} caratteri (il limite è {n})",
    "'~' would make a value of {size} characters (the limit is {n})":
        "'~' produrrebbe un valore di {size} caratteri (il limite è {n})",
    "format widths given by an argument ('*' or a nested {{}}) are not allowed":
        "le larghezze di formato date da un argomento ('*' o un {{}} annidato) non sono consentite",
    "format widths adding up to {size} are too large (the limit is {n})":
        "larghezze di formato che sommano {size} sono troppo grandi (il limite è {n})",
    "'.{name}()' would change a value, and text cannot change values":
        "'.{name}()' cambierebbe un valore, e un testo non può cambiare i valori",
    "access to attribute '{name}' of '{kind}' object is unsafe.":
        "l'accesso all'attributo '{name}' di un oggetto '{kind}' non è sicuro.",
    "exponent {value} is too large (the limit is {n})": "esponente {value} troppo grande (il limite è {n})",
    "repeating a value {times} times makes it too large": "ripetere un valore {times} volte lo rende troppo grande",
    "calls nested too deeply (a macro that calls itself?)":
        "chiamate annidate troppo in profondità (una macro che chiama se stessa?)",
    "the render needed more than {n} MB of memory": "la resa ha richiesto più di {n} MB di memoria",
    "the render needed more memory than it may use": "la resa ha richiesto più memoria di quanta ne possa usare",
    "the request needed more than {n} MB of memory": "la richiesta ha richiesto più di {n} MB di memoria",
    "rendering took longer than {seconds}s": "la resa ha richiesto più di {seconds} s",
    "rendering took longer than {seconds}s and was stopped": "la resa ha richiesto più di {seconds} s ed è stata "
                                                             "fermata",
    "output longer than {n} characters": "risultato più lungo di {n} caratteri",
    # a pipeline's (processes/pipeline_validation.py)
    "unknown status '{name}'{hint}": "stato sconosciuto '{name}'{hint}",
    "unknown status of this type '{name}'{hint}": "stato sconosciuto per questo tipo '{name}'{hint}",
    "unknown substate of '{status}' '{name}'{hint}": "sottostato sconosciuto di '{status}' '{name}'{hint}",
    "'{name}' is not in the sequence of type '{type}' ({statuses}): name its initial status":
        "'{name}' non è nella sequenza del tipo '{type}' ({statuses}): indica il suo stato iniziale",
    "'{name}' is not in the sequence of type '{type}' ({statuses})":
        "'{name}' non è nella sequenza del tipo '{type}' ({statuses})",
    # a pipeline's save against the records there are (crm/pipeline_store.py)
    "1 record of type '{type}' is in '{status}', which this version leaves out of the type's sequence: map it to one "
    "of {statuses}": "1 scheda di tipo '{type}' è in '{status}', che questa versione toglie dalla sequenza del tipo: "
                     "indica in quale stato va, fra {statuses}",
    "{count} records of type '{type}' are in '{status}', which this version leaves out of the type's sequence: map "
    "it to one of {statuses}": "{count} schede di tipo '{type}' sono in '{status}', che questa versione toglie dalla "
                               "sequenza del tipo: indica in quale stato vanno, fra {statuses}",
    "record type '{type}' has 1 record: keep it in the pipeline, or change their type first":
        "il tipo di scheda '{type}' ha 1 scheda: tienilo nella pipeline, o cambia prima il tipo della scheda",
    "record type '{type}' has {count} records: keep it in the pipeline, or change their type first":
        "il tipo di scheda '{type}' ha {count} schede: tienilo nella pipeline, o cambia prima il tipo delle schede",
    "'{name}' is still a status of this version: nothing to map":
        "'{name}' è ancora uno stato di questa versione: non c'è nulla da rimappare",
    "no status '{name}' in the version this one replaces{hint}":
        "nessuno stato '{name}' nella versione che questa sostituisce{hint}",
    "'{name}' is not a status of this version{hint}": "'{name}' non è uno stato di questa versione{hint}",
    "pipeline '{name}' is for {kind} records; it cannot change kind":
        "la pipeline '{name}' è per le schede {kind}; non può cambiare tipo di scheda",
    "duplicate status '{name}' (also statuses[{index}])": "stato '{name}' ripetuto (anche in statuses[{index}])",
    "duplicate record type '{name}' (also types[{index}])": "tipo di scheda '{name}' ripetuto (anche in types[{index}])",
    "duplicate substate '{name}' (also {path}[{index}])": "sottostato '{name}' ripetuto (anche in {path}[{index}])",
    # a client request template's (crm/client_requests/questions.py)
    "'{name}' is the key of an earlier question: keys are unique":
        "'{name}' è la chiave di una domanda precedente: le chiavi sono uniche",
    "only a choice or multi_choice question has options, not {type}":
        "solo una domanda choice o multi_choice ha delle opzioni, non {type}",
    "a choice needs at least two options": "una scelta richiede almeno due opzioni",
    "an option is 1 to 200 characters of text": "un'opzione è un testo da 1 a 200 caratteri",
    "'{option}' is there twice": "'{option}' c'è due volte",
    "only a file question has {field}, not {type}": "solo una domanda file ha {field}, non {type}",
    "'{name}' is not a kind of file kept; the kinds are {kinds}":
        "'{name}' non è un tipo di file accettato; i tipi sono {kinds}",
    "{size} bytes is over the installation's limit of {limit} (CLIENT_REQUEST_MAX_FILE_BYTES)":
        "{size} byte superano il limite dell'installazione, {limit} (CLIENT_REQUEST_MAX_FILE_BYTES)",
    # pydantic's, for a value of the wrong kind or size
    "List should have at least 1 item after validation, not {count}": "serve almeno 1 elemento, non {count}",
    "List should have at least {n} items after validation, not {count}": "servono almeno {n} elementi, non {count}",
    "List should have at most {n} items after validation, not {count}": "al massimo {n} elementi, non {count}",
    "Input should be a valid integer, unable to parse string as an integer": "serve un numero intero",
    "Input should be a valid integer, got a number with a fractional part": "serve un numero intero, senza decimali",
    "Input should be a valid integer": "serve un numero intero",
    "Input should be a valid number, unable to parse string as a number": "serve un numero",
    "Input should be a valid number": "serve un numero",
    "Input should be a valid boolean, unable to interpret input": "serve true o false",
    "Input should be a valid boolean": "serve true o false",
    "Input should be a valid string": "serve un testo",
    "Input should be a valid list": "serve un elenco",
    "Input should be a valid dictionary": "serve un oggetto (chiave: valore)",
    "Input should be greater than or equal to {n}": "deve essere almeno {n}",
    "Input should be less than or equal to {n}": "deve essere al massimo {n}",
    "Input should be greater than {n}": "deve essere maggiore di {n}",
    "Input should be less than {n}": "deve essere minore di {n}",
    "String should have at least 1 character": "serve almeno 1 carattere",
    "String should have at least {n} characters": "servono almeno {n} caratteri",
    "String should have at most {n} characters": "al massimo {n} caratteri",
    "String should match pattern '{pattern}'": "non ha la forma richiesta (il modello è '{pattern}')",
    "Input should be {choices}": "deve essere {choices}",
    # a document that is not one (processes/documents.py), as the two editors name it
    "the template is not valid YAML or JSON at line {line}, column {column}: {problem}":
        "il modello non è YAML o JSON valido alla riga {line}, colonna {column}: {problem}",
    "the template is not valid YAML or JSON: {problem}": "il modello non è YAML o JSON valido: {problem}",
    "the template must be a mapping of template fields": "il modello deve essere un insieme di campi (chiave: valore)",
    "the request template is not valid YAML or JSON at line {line}, column {column}: {problem}":
        "il modello di richiesta non è YAML o JSON valido alla riga {line}, colonna {column}: {problem}",
    "the request template is not valid YAML or JSON: {problem}":
        "il modello di richiesta non è YAML o JSON valido: {problem}",
    "the request template must be a mapping of template fields":
        "il modello di richiesta deve essere un insieme di campi (chiave: valore)",
    # who and what a template names (processes/validation.py)
    "no user has the role '{name}' (the roles users have: {names})":
        "nessun utente ha il ruolo '{name}' (i ruoli degli utenti: {names})",
    "no user has the role '{name}' (there are no users)": "nessun utente ha il ruolo '{name}' (non ci sono utenti)",
    "no user has the role '{name}'{hint}": "nessun utente ha il ruolo '{name}'{hint}",
    "no signing provider '{name}' in SIGNING_PROVIDERS{hint} (there are {names})":
        "nessun servizio di firma '{name}' in SIGNING_PROVIDERS{hint} (ci sono {names})",
    # when a phase starts, when a scheduled automation runs
    "give after_hours or after_days, not both": "indica after_hours o after_days, non entrambi",
    "give after_minutes, after_hours or after_days, one of them":
        "indica uno solo fra after_minutes, after_hours e after_days",
    "since: process_start needs after_minutes, after_hours or after_days":
        "since: process_start richiede after_minutes, after_hours o after_days",
    "a scheduled automation gives one of after_minutes, after_hours or after_days":
        "un'automazione programmata indica uno fra after_minutes, after_hours e after_days",
    # the summary above the list, and the words inside the values
    "{first} (and 1 more)": "{first} (e un altro errore)",
    "{first} (and {n} more)": "{first} (e altri {n} errori)",
    "did you mean {names}?": "forse {names}?",
    "or": "o",
    "through": "tramite",
}
# what a placeholder may hold, where `.+` would read too much
_GROUPS = {"hint": r".*?", "through": r".*?", "name": r"[^']*", "filter": r"\w+", "n": r"\d+", "runs": r"\d+",
           "count": r"\d+", "line": r"\d+", "index": r"\d+", "choices": r"'[^']*'(?:, '[^']*')*(?: or '[^']*')?",
           "seconds": r"[\d.]+"}
_HINT = re.compile(r" \(did you mean ('[^']*'(?: or '[^']*')*)\?\)")


_WORDS = {"{first} (and 1 more)", "{first} (and {n} more)", "did you mean {names}?", "or", "through"}  # not messages
_PATTERNS = [(text, english_pattern(text, _GROUPS)) for text in ITALIAN_CHECKS if text not in _WORDS]


def check_in(message: str, _: Callable[[str], str]) -> str:
    """A check's `message` as `_` (the console's translator) says it, when it is one of the texts above."""
    if (found := written_from(message, _PATTERNS)) is None:
        return message
    english, values = found
    return _(english).format(**{name: _hint_in(value, _) if name == "hint" else
                                check_in(value, _) if name == "reason" else
                                _or(value, _) if name == "choices" else
                                value.replace(" (through '", f" ({_('through')} '") if name == "through" else value
                                for name, value in values.items()})


def _hint_in(hint: str, _: Callable[[str], str]) -> str:
    return _HINT.sub(lambda found: " (" + _("did you mean {names}?").format(names=_or(found.group(1), _)) + ")", hint)


def _or(names: str, _: Callable[[str], str]) -> str:
    return names.replace("' or '", f"' {_('or')} '")
