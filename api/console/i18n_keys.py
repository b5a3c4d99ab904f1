"""The Italian of the API keys' page (api.console.key_pages), merged into api.console.i18n.ITALIAN."""

from __future__ import annotations

ITALIAN_KEYS: dict[str, str] = {
    "API keys": "Chiavi API",
    "A program (a website form, another CRM, a script) calls the API with a key. Its role says what it may do: client "
    "starts processes and reads the ones it started; staff also works on records, tasks and processes; admin also "
    "changes templates, users and keys.":
        "Un programma (un modulo del sito, un altro CRM, uno script) chiama l'API con una chiave. Il suo ruolo dice "
        "che cosa può fare: cliente avvia processi e legge quelli che ha avviato; staff lavora anche su schede, "
        "attività e processi; amministratore modifica anche modelli, utenti e chiavi.",
    "client": "cliente",
    "Role": "Ruolo",
    "Begins with": "Inizia con",
    "Acts as": "Agisce come",
    "Made": "Creata",
    "nobody: the office": "nessuno: l'ufficio",
    "revoked {when}": "revocata il {when}",
    "Yes, revoke {name}": "Sì, revoca {name}",
    "Revoke": "Revoca",
    "No API key yet.": "Ancora nessuna chiave API.",
    "The newest {n} keys are listed.": "Sono elencate le {n} chiavi più recenti.",
    "Make a key": "Crea una chiave",
    "Make the key": "Crea la chiave",
    "the website form": "il modulo del sito",
    "A key that acts as a staff user sees only the records that user may see.":
        "Una chiave che agisce come un utente vede solo le schede che quell'utente può vedere.",
    "Key {name} was made": "La chiave {name} è stata creata",
    "Copy it now and keep it where the program reads it: it is not shown again, and only its fingerprint is kept.":
        "Copiala ora e conservala dove il programma la legge: non verrà più mostrata, e si conserva solo la sua "
        "impronta.",
    "The key": "La chiave",
    "This form made its key already, and the key was shown then. If it was not copied, revoke it below and make "
    "another.":
        "Questo modulo ha già creato la sua chiave, mostrata allora. Se non è stata copiata, revocala qui sotto e "
        "creane un'altra.",
    "The key was revoked: it is refused from now on.": "La chiave è stata revocata: da ora viene rifiutata.",
    "Only an admin manages the API keys: ask one to.":
        "Solo un amministratore gestisce le chiavi API: chiedi a uno.",
    "Tick the box to confirm: a program using this key stops working.":
        "Spunta la casella per confermare: un programma che usa questa chiave smette di funzionare.",
    "This is the last admin key: make another admin key before revoking this one.":
        "È l'ultima chiave amministratore: creane un'altra prima di revocare questa.",
    # what the API says (worded, its values filled in by the console), and a console form sent twice
    "no API key {id}": "nessuna chiave API {id}",
    "user {id} is not active: make the user active first, or choose another":
        "l'utente {id} non è attivo: rendilo attivo prima, o scegline un altro",
    "this form was sent already, with other values: reload the page to send new ones":
        "questo modulo è già stato inviato, con altri valori: ricarica la pagina per inviarne di nuovi",
}
