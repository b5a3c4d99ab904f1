"""The email that carries a request's link to the client, in the request's language (Italian, French, German,
English ship; any other gets English words around the request's own title and message). Pure: no I/O."""

from __future__ import annotations

WORDS: dict[str, dict[str, str]] = {
    "en": {"subject": "Request: {title}", "reminder": "Reminder: {title}",
           "open": "Please answer here (no login needed):", "until": "The link is valid until {date}.",
           "again": "We have not received your answers yet."},
    "it": {"subject": "Richiesta: {title}", "reminder": "Promemoria: {title}",
           "open": "Può rispondere qui (senza registrazione):", "until": "Il collegamento è valido fino al {date}.",
           "again": "Non abbiamo ancora ricevuto le sue risposte."},
    "fr": {"subject": "Demande : {title}", "reminder": "Rappel : {title}",
           "open": "Vous pouvez répondre ici (sans inscription) :", "until": "Le lien est valable jusqu'au {date}.",
           "again": "Nous n'avons pas encore reçu vos réponses."},
    "de": {"subject": "Anfrage: {title}", "reminder": "Erinnerung: {title}",
           "open": "Sie können hier antworten (ohne Anmeldung):", "until": "Der Link ist gültig bis {date}.",
           "again": "Wir haben Ihre Antworten noch nicht erhalten."},
}


def words(language: str) -> dict[str, str]:
    return WORDS.get(language.split("_")[0].split("-")[0].lower(), WORDS["en"])


def link_email(language: str, title: str, message: str, link: str, until: str) -> tuple[str, str]:
    """The subject and body of the email with the request's link."""
    w = words(language)
    parts = [message.strip()] if message.strip() else []
    parts += [f"{w['open']}\n{link}", w["until"].format(date=until)]
    return " ".join(w["subject"].format(title=title).split())[:500], "\n\n".join(parts) + "\n"


def reminder_email(language: str, title: str, first_body: str) -> tuple[str, str]:
    """A reminder: the first email's body (its link with it: the token is kept nowhere else), said again."""
    w = words(language)
    return " ".join(w["reminder"].format(title=title).split())[:500], f"{w['again']}\n\n{first_body}"
