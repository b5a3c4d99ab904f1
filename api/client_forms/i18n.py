"""The form's own words in the languages that ship (Italian, French, German, English); a request in another
language gets English ones around its own title, message and questions."""

from __future__ import annotations

from collections.abc import Callable

ENGLISH = {
    "large_title": "The form is too large",
    "large_text": "The files together are over {size}: send smaller files (a "
                  "photo at a lower resolution, a PDF per document).",
    "lang": "en",
    "replaced_title": "This link was replaced",
    "replaced_text": "A newer link to this form was emailed to you on {date}: open the form from that email. If you "
                     "cannot find it, ask us for a new one.",
    "e_file_renamed": "This file's content is {kind}, but its name does not end in {ends}: rename the file, or choose "
                      "the original one.",
    "e_file_not_utf8": "This text file is not in UTF-8: save it again as UTF-8 (in Excel: “CSV UTF-8”) and choose it "
                       "again.",
    "required": "required", "optional": "optional", "send": "Send",
    "fix": "Please correct the following:", "yes": "Yes", "no": "No",
    "file_hint": "Accepted: {kinds}; at most {size}.", "date_hint": "As 2026-03-31 or 31/03/2026.",
    "number_hint": "A number, such as 2 or 1,250.50.", "choose_any": "Choose any that apply.",
    "expires": "This form can be sent until {date} at {time}.",
    "sent_title": "Thank you", "sent_text": "Your answers have reached us. You may close this page.",
    "already_title": "Already sent", "already_text": "This request was answered on {date}; it cannot be sent again.",
    "expired_title": "This link has expired", "expired_text": "Please ask us for a new link.",
    "cancelled_title": "This request was withdrawn", "cancelled_text": "There is nothing more to send here.",
    "unknown_title": "Link not found", "unknown_text": "Check that the whole link was copied, or ask us for a new one.",
    "slow_title": "Too many attempts", "slow_text": "Please wait a few minutes and try again.",
    "refused_title": "The form could not be read",
    "refused_text": "Open the link again and send the form from that page.",
    "e_required": "This answer is required.", "e_too_long": "This answer is longer than {limit} characters.",
    "e_number": "Write a number, such as 2 or 1,250.50.", "e_number_range": "This number is too large.",
    "e_date": "Write a date such as 2026-03-31 or 31/03/2026.", "e_option": "Choose one of the options given.",
    "e_one_answer": "Give one answer here, not several.",
    "e_file_large": "This file is {size}; at most {limit} is accepted.", "e_file_empty": "This file is empty.",
    "e_file_unknown": "This kind of file cannot be accepted.",
    "e_file_mismatch": "The file's content does not match its name or type.",
    "e_file_kind": "This file is {kind}; accepted: {kinds}.", "e_file_name": "This file has no usable name.",
    "e_file_again": "The file you chose ({name}) was not kept: choose it again before sending.",
}

ITALIAN = {
    "large_title": "Il modulo è troppo grande",
    "large_text": "I file insieme superano {size}: invii file più piccoli (una "
                  "foto a risoluzione più bassa, un PDF per documento).",
    "lang": "it",
    "replaced_title": "Questo collegamento è stato sostituito",
    "replaced_text": "Il {date} le abbiamo inviato per email un collegamento più recente a questo modulo: apra il "
                     "modulo da quella email. Se non la trova, ce ne chieda uno nuovo.",
    "e_file_renamed": "Il contenuto di questo file è {kind}, ma il suo nome non finisce in {ends}: rinominare il file "
                      "o scegliere l'originale.",
    "e_file_not_utf8": "Questo file di testo non è in UTF-8: salvarlo di nuovo come UTF-8 (in Excel: «CSV UTF-8») e "
                       "sceglierlo di nuovo.",
    "required": "obbligatorio", "optional": "facoltativo", "send": "Invia",
    "fix": "Correggere quanto segue:", "yes": "Sì", "no": "No",
    "file_hint": "Accettati: {kinds}; al massimo {size}.", "date_hint": "Come 31/03/2026 o 2026-03-31.",
    "number_hint": "Un numero, come 2 o 1.250,50.", "choose_any": "Scegliere tutte le voci pertinenti.",
    "expires": "Questo modulo si può inviare fino al {date} alle {time}.",
    "sent_title": "Grazie", "sent_text": "Abbiamo ricevuto le sue risposte. Può chiudere questa pagina.",
    "already_title": "Già inviato", "already_text": "Questa richiesta ha avuto risposta il {date}; non si può "
                                                    "inviare di nuovo.",
    "expired_title": "Questo collegamento è scaduto", "expired_text": "Ci chieda un nuovo collegamento.",
    "cancelled_title": "Questa richiesta è stata ritirata", "cancelled_text": "Non c'è altro da inviare qui.",
    "unknown_title": "Collegamento non trovato",
    "unknown_text": "Controlli di aver copiato tutto il collegamento, o ce ne chieda uno nuovo.",
    "slow_title": "Troppi tentativi", "slow_text": "Attenda qualche minuto e riprovi.",
    "refused_title": "Il modulo non si è potuto leggere",
    "refused_text": "Riapra il collegamento e invii il modulo da quella pagina.",
    "e_required": "Questa risposta è obbligatoria.", "e_too_long": "Questa risposta supera i {limit} caratteri.",
    "e_number": "Scrivere un numero, come 2 o 1.250,50.", "e_number_range": "Questo numero è troppo grande.",
    "e_date": "Scrivere una data come 31/03/2026 o 2026-03-31.", "e_option": "Scegliere una delle opzioni date.",
    "e_one_answer": "Dare una sola risposta qui, non più di una.",
    "e_file_large": "Questo file è di {size}; si accetta al massimo {limit}.", "e_file_empty": "Questo file è vuoto.",
    "e_file_unknown": "Questo tipo di file non si può accettare.",
    "e_file_mismatch": "Il contenuto del file non corrisponde al suo nome o tipo.",
    "e_file_kind": "Questo file è {kind}; accettati: {kinds}.", "e_file_name": "Questo file non ha un nome usabile.",
    "e_file_again": "Il file scelto ({name}) non è stato conservato: sceglierlo di nuovo prima di inviare.",
}

FRENCH = {
    "large_title": "Le formulaire est trop volumineux",
    "large_text": "Les fichiers dépassent ensemble {size} : envoyez des fichiers "
                  "plus petits (une photo en plus basse résolution, un PDF par document).",
    "lang": "fr",
    "replaced_title": "Ce lien a été remplacé",
    "replaced_text": "Un lien plus récent vers ce formulaire vous a été envoyé par e-mail le {date} : ouvrez le "
                     "formulaire depuis cet e-mail. Si vous ne le trouvez pas, demandez-nous-en un nouveau.",
    "e_file_renamed": "Le contenu de ce fichier est {kind}, mais son nom ne se termine pas par {ends} : renommez le "
                      "fichier ou choisissez l'original.",
    "e_file_not_utf8": "Ce fichier texte n'est pas en UTF-8 : enregistrez-le de nouveau en UTF-8 (dans Excel : « CSV "
                       "UTF-8 ») et choisissez-le de nouveau.",
    "required": "obligatoire", "optional": "facultatif", "send": "Envoyer",
    "fix": "Veuillez corriger ce qui suit :", "yes": "Oui", "no": "Non",
    "file_hint": "Acceptés : {kinds} ; au plus {size}.", "date_hint": "Comme 31/03/2026 ou 2026-03-31.",
    "number_hint": "Un nombre, comme 2 ou 1\u00a0250,50.", "choose_any": "Cochez tout ce qui s'applique.",
    "expires": "Ce formulaire peut être envoyé jusqu'au {date} à {time}.",
    "sent_title": "Merci", "sent_text": "Vos réponses nous sont parvenues. Vous pouvez fermer cette page.",
    "already_title": "Déjà envoyé",
    "already_text": "Cette demande a reçu une réponse le {date} ; elle ne peut pas être renvoyée.",
    "expired_title": "Ce lien a expiré", "expired_text": "Demandez-nous un nouveau lien.",
    "cancelled_title": "Cette demande a été retirée", "cancelled_text": "Il n'y a plus rien à envoyer ici.",
    "unknown_title": "Lien introuvable",
    "unknown_text": "Vérifiez que le lien a été copié en entier, ou demandez-nous-en un nouveau.",
    "slow_title": "Trop de tentatives", "slow_text": "Patientez quelques minutes puis réessayez.",
    "refused_title": "Le formulaire n'a pas pu être lu",
    "refused_text": "Rouvrez le lien et envoyez le formulaire depuis cette page.",
    "e_required": "Cette réponse est obligatoire.", "e_too_long": "Cette réponse dépasse {limit} caractères.",
    "e_number": "Écrivez un nombre, comme 2 ou 1\u00a0250,50.", "e_number_range": "Ce nombre est trop grand.",
    "e_date": "Écrivez une date comme 31/03/2026 ou 2026-03-31.", "e_option": "Choisissez l'une des options.",
    "e_one_answer": "Donnez une seule réponse ici, pas plusieurs.",
    "e_file_large": "Ce fichier fait {size} ; au plus {limit} est accepté.", "e_file_empty": "Ce fichier est vide.",
    "e_file_unknown": "Ce type de fichier ne peut pas être accepté.",
    "e_file_mismatch": "Le contenu du fichier ne correspond pas à son nom ou à son type.",
    "e_file_kind": "Ce fichier est {kind} ; acceptés : {kinds}.",
    "e_file_name": "Ce fichier n'a pas de nom utilisable.",
    "e_file_again": "Le fichier choisi ({name}) n'a pas été conservé : choisissez-le de nouveau avant d'envoyer.",
}

GERMAN = {
    "large_title": "Das Formular ist zu groß",
    "large_text": "Die Dateien sind zusammen größer als {size}: Senden Sie "
                  "kleinere Dateien (ein Foto mit geringerer Auflösung, ein PDF je Dokument).",
    "lang": "de",
    "replaced_title": "Dieser Link wurde ersetzt",
    "replaced_text": "Am {date} haben wir Ihnen einen neueren Link zu diesem Formular per E-Mail geschickt: Öffnen Sie"
                     " das Formular über diese E-Mail. Wenn Sie sie nicht finden, fragen Sie uns nach einem neuen.",
    "e_file_renamed": "Der Inhalt dieser Datei ist {kind}, aber ihr Name endet nicht auf {ends}: Benennen Sie die "
                      "Datei um oder wählen Sie das Original.",
    "e_file_not_utf8": "Diese Textdatei ist nicht in UTF-8: Speichern Sie sie erneut als UTF-8 (in Excel: „CSV UTF-8“)"
                       " und wählen Sie sie erneut.",
    "required": "Pflichtfeld", "optional": "freiwillig", "send": "Senden",
    "fix": "Bitte korrigieren Sie Folgendes:", "yes": "Ja", "no": "Nein",
    "file_hint": "Erlaubt: {kinds}; höchstens {size}.", "date_hint": "Wie 31.03.2026 oder 2026-03-31.",
    "number_hint": "Eine Zahl, etwa 2 oder 1.250,50.", "choose_any": "Wählen Sie alles Zutreffende.",
    "expires": "Dieses Formular kann bis {date} um {time} Uhr gesendet werden.",
    "sent_title": "Vielen Dank",
    "sent_text": "Ihre Antworten sind bei uns angekommen. Sie können diese Seite schließen.",
    "already_title": "Bereits gesendet",
    "already_text": "Diese Anfrage wurde am {date} beantwortet; sie kann nicht erneut gesendet werden.",
    "expired_title": "Dieser Link ist abgelaufen", "expired_text": "Bitte fragen Sie uns nach einem neuen Link.",
    "cancelled_title": "Diese Anfrage wurde zurückgezogen", "cancelled_text": "Hier ist nichts mehr zu senden.",
    "unknown_title": "Link nicht gefunden",
    "unknown_text": "Prüfen Sie, ob der ganze Link kopiert wurde, oder fragen Sie uns nach einem neuen.",
    "slow_title": "Zu viele Versuche", "slow_text": "Bitte warten Sie einige Minuten und versuchen Sie es erneut.",
    "refused_title": "Das Formular konnte nicht gelesen werden",
    "refused_text": "Öffnen Sie den Link erneut und senden Sie das Formular von dieser Seite.",
    "e_required": "Diese Antwort ist erforderlich.", "e_too_long": "Diese Antwort ist länger als {limit} Zeichen.",
    "e_number": "Schreiben Sie eine Zahl, etwa 2 oder 1.250,50.", "e_number_range": "Diese Zahl ist zu groß.",
    "e_date": "Schreiben Sie ein Datum wie 31.03.2026 oder 2026-03-31.",
    "e_option": "Wählen Sie eine der angebotenen Möglichkeiten.",
    "e_one_answer": "Geben Sie hier nur eine Antwort, nicht mehrere.",
    "e_file_large": "Diese Datei hat {size}; höchstens {limit} sind erlaubt.", "e_file_empty": "Diese Datei ist leer.",
    "e_file_unknown": "Diese Art von Datei kann nicht angenommen werden.",
    "e_file_mismatch": "Der Inhalt der Datei passt nicht zu ihrem Namen oder Typ.",
    "e_file_kind": "Diese Datei ist {kind}; erlaubt: {kinds}.",
    "e_file_name": "Diese Datei hat keinen brauchbaren Namen.",
    "e_file_again": "Die gewählte Datei ({name}) wurde nicht behalten: Wählen Sie sie vor dem Senden erneut aus.",
}

LANGUAGES = {"en": ENGLISH, "it": ITALIAN, "fr": FRENCH, "de": GERMAN}


def words(language: str) -> dict[str, str]:
    """The form's words in `language` (its primary subtag: de-CH is German), else English."""
    return LANGUAGES.get(language.split("-")[0].lower(), ENGLISH)


def from_accept_language(header: str) -> str:
    """The shipped language a browser prefers most (Accept-Language), else English."""
    ranked = []
    for position, part in enumerate(header.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        primary = tag.strip().split("-")[0].lower()
        if primary in LANGUAGES and quality > 0:
            ranked.append((-quality, position, primary))
    return min(ranked)[2] if ranked else "en"


def say(table: dict[str, str]) -> Callable[..., str]:
    def text(key: str, **values: object) -> str:
        return table[key].format(**values)

    return text


def size_text(size: int) -> str:
    """Bytes as people read them: 820 KB, 10 MB."""
    if size >= 1_000_000:
        return f"{size / 1_000_000:.3g} MB"
    return f"{max(1, round(size / 1000))} KB"


KIND_NAMES = {"application/pdf": "PDF", "image/png": "PNG", "image/jpeg": "JPEG", "image/gif": "GIF",
              "image/webp": "WebP", "text/plain": "TXT", "text/csv": "CSV"}


def kind_name(content_type: str) -> str:
    from crm.documents.sniff import EXTENSIONS

    return KIND_NAMES.get(content_type) or EXTENSIONS.get(content_type, (content_type,))[0].lstrip(".").upper()
