"""The Italian of what a refused form says is wrong with a field (api.console.refusals), merged into
api.console.i18n.ITALIAN."""

from __future__ import annotations

ITALIAN_FORMS: dict[str, str] = {
    "holds a character no one can see ({code}: a control character, or one that reorders the text after it): "
    "remove it": "contiene un carattere invisibile ({code}: un carattere di controllo, o uno che riordina il testo "
                 "dopo di esso): toglilo",
    'a number in it is too large to be one the office has': "un suo numero è troppo grande per essere uno dell'ufficio",
    "Answer '{name}'": "Risposta '{name}'",
    'Answer names': 'Nomi delle risposte',
    'Expires after': 'Scade dopo',
    'The form': 'Il modulo',
    'a whole number': 'un numero intero',
    'a whole number of days from 1 to 3650': 'un numero intero di giorni da 1 a 3650',
    'at least {n}': 'almeno {n}',
    'at least {n} characters': 'almeno {n} caratteri',
    'at most {n}': 'al massimo {n}',
    'at most {n} characters': 'al massimo {n} caratteri',
    'not one of the choices': 'non è una delle scelte',
    'not written as expected': 'non è scritto come previsto',
    'record {id} has no email address (nor a contact with one): write one in “Send to”':
        'la scheda {id} non ha un indirizzo email (né un contatto che ne abbia uno): scrivine uno in “Invia a”',
    'required': 'obbligatorio',
    'it is larger than {size} bytes (send a smaller file, or fewer at once)':
        'supera i {size} byte (invia un file più piccolo, o meno file insieme)',
}
