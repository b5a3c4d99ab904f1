"""The Italian of what the console says of what happened, merged into api.console.i18n.ITALIAN: a request the process
or the API refused, with its values (api/console/refusals.py), what staff just did, a status agreeing with what it is
said of, how an import ended or why its file was refused, and who did something."""

from __future__ import annotations

ITALIAN_SAID: dict[str, str] = {
    # a staff request the process or the API refused (api/console/refusals.py): the text with its values
    "phase '{phase}' is already {status}": "la fase '{phase}' è già chiusa (stato: {status})",
    "phase '{phase}' is {status}, not running": "la fase '{phase}' non è in corso (stato: {status})",
    "phase '{phase}' completes by itself when its actions are done":
        "la fase '{phase}' si completa da sola quando le sue azioni sono eseguite",
    "phase '{phase}' is still taking in its task {task} (the worker has not reported it yet); send it again in a "
    "moment": "la fase '{phase}' sta ancora prendendo in carico la sua attività {task} (il worker non l'ha ancora "
              "segnalata); riprova tra un momento",
    "task {task} is not the task of phase '{phase}'": "l'attività {task} non è quella della fase '{phase}'",
    "task {task} is already {status}": "l'attività {task} è già chiusa (stato: {status})",
    "answer '{name}': {problem}": "risposta '{name}': {problem}",
    "no user {id}": "nessun utente {id}",
    "a user with handle '{handle}' exists already": "esiste già un utente con nome utente '{handle}'",
    "not a valid email address": "non è un indirizzo email valido",
    "a password is not only spaces": "una password non è fatta di soli spazi",
    "the process has ended ({status})": "il processo è terminato (stato: {status})",
    "process {process} has ended; it takes no more requests": "il processo {process} è terminato: non accetta più "
                                                               "richieste",
    "the process is being aborted": "il processo è in corso di interruzione",
    "the process has no open incident": "il processo non ha incidenti aperti",
    "no phase is current; name the phase to {verb}": "nessuna fase è in corso: indica quale",
    "no phase '{phase}' in template '{template}'{hint}": "nessuna fase '{phase}' nel modello '{template}'",
    "no running process {process}": "nessun processo {process} in corso",
    "Temporal is not reachable ({code}); nothing was done":
        "Temporal non è raggiungibile ({code}); non è stato fatto nulla",
    # in the console the form sent again carries the same Idempotency-Key
    "process {process} did not answer in time (is the worker running?); the request may still apply: send it again "
    "with the same Idempotency-Key to learn its outcome":
        "il processo {process} non ha risposto in tempo (il worker è in funzione?); la richiesta potrebbe applicarsi "
        "ancora: invia di nuovo il modulo per conoscerne l'esito",
    "process {process} did not answer in time: no worker took its request (is the worker running?); nothing was "
    "changed": "il processo {process} non ha risposto in tempo: nessun worker ha preso la richiesta (il worker è in "
               "funzione?); non è stato cambiato nulla",
    "process {process} cannot answer now: its workflow task is failing (an engineer sees why in the Temporal UI); "
    "nothing was changed": "il processo {process} non può rispondere ora: il suo workflow task non riesce (un tecnico "
                           "ne vede il motivo nella Temporal UI); non è stato cambiato nulla",
    # what staff did, said when it is done; the board and the incidents' retry
    "The phase was skipped.": "La fase è stata saltata.",
    "Abort requested: the process is ending.": "Interruzione richiesta: il processo sta terminando.",
    "The phase was completed.": "La fase è stata completata.",
    "The owner was changed.": "Il titolare è stato cambiato.",
    "The incident was resolved.": "L'incidente è stato risolto.",
    "The process was started.": "Il processo è stato avviato.",
    "The task was completed.": "L'attività è stata completata.",
    "The task was added.": "L'attività è stata aggiunta.",
    "The request was sent to the client.": "La richiesta è stata inviata al cliente.",
    "The request was sent again.": "La richiesta è stata inviata di nuovo.",
    "The request was cancelled.": "La richiesta è stata annullata.",
    "The request was linked.": "La richiesta è stata collegata.",
    "“{title}” moved to {status}.": "“{title}” spostata in {status}.",
    "There is no pipeline “{key}”: this is {name}.": "Non esiste la pipeline “{key}”: questa è {name}.",
    "tick the processes to retry": "spunta i processi da riprovare",
    # a refused form, a filter
    "A password is at most 1,000 characters.": "Una password è lunga al massimo 1.000 caratteri.",
    "no such number: too large": "nessun numero così: è troppo grande",
    # a span of time in a template's outline
    "1 day": "1 giorno", "{n} days": "{n} giorni", "1 hour": "1 ora", "{n} hours": "{n} ore", "1 minute": "1 minuto",
    "{n} minutes": "{n} minuti", "{span} after the previous phase": "{span} dopo la fase precedente",
    "{span} after the process started": "{span} dopo l'avvio del processo",
    # a status said of what it is the status of (api/console/web.status_in): Italian agrees with it
    "not run": "non eseguita",  # a phase the process ended before
    "left the status": "uscita dallo stato",  # a status's automations, ended as the record moved on
    "phase:done": "completata", "phase:skipped": "saltata", "phase:failed": "non riuscita",
    "action:done": "eseguita", "action:skipped": "saltata",
    "task:open": "aperta", "task:done": "completata", "task:cancelled": "annullata",
    "email:sent": "inviata", "email:held": "trattenuta", "email:failed": "non riuscita",
    "import:done": "completata", "import:failed": "non riuscita", "import:refused": "rifiutata",
    "delivery:failed": "non riuscito", "delivery:held": "trattenuto",
    "request:pending": "in attesa di risposta", "request:submitted": "compilata", "request:cancelled": "annullata",
    "request:expired": "scaduta",
    # the answers of a phase or a task, one per line (api/console/actions.answers)
    "line {n}: '{name}' is answered twice": "riga {n}: '{name}' ha già una risposta",
    # an action's kind, in a template's outline and a process's timeline (its key in the tooltip)
    "kind:send_email": "invia email", "kind:webhook": "webhook", "kind:send_sms": "invia SMS",
    "kind:appointment": "appuntamento", "kind:letter": "lettera", "kind:report": "documento",
    "kind:create_task": "crea attività", "kind:write_values": "scrivi valori", "kind:set_status": "cambia stato",
    "kind:add_history": "nota nello storico", "kind:reminder": "promemoria", "kind:end_process": "termina il processo",
    "kind:start_follow_up": "avvia un seguito", "kind:open_substate": "apri sottostato",
    "kind:close_substate": "chiudi sottostato", "kind:start_process": "avvia un processo", "kind:notify": "avvisa",
    "kind:assign": "assegna", "kind:send_client_request": "richiesta al cliente", "kind:forward_email": "inoltra email",
    "kind:notify_owner": "avvisa il titolare", "kind:request_signature": "richiesta di firma",
    # the office's users (api/console/user_pages.py)
    "Users": "Utenti", "Job": "Mansione", "Active": "Attivo", "inactive": "non attivo", "staff": "staff",
    "admin": "amministratore", "In the console": "Nella console", "no sign-in": "senza accesso",
    "Console password": "Password della console", "Add a user": "Aggiungi un utente", "Add the user": "Aggiungi l'utente",
    "Without a password the user has no console sign-in; processes and pipelines can still name them.":
        "Senza password l'utente non accede alla console; processi e pipeline possono comunque nominarlo.",
    "The user was added.": "L'utente è stato aggiunto.", "The user was saved.": "L'utente è stato salvato.",
    "The console sign-in was set: their open sessions ended.":
        "L'accesso alla console è impostato: le sue sessioni aperte sono terminate.",
    "Change the user": "Modifica l'utente", "Save the user": "Salva l'utente", "Console sign-in": "Accesso alla console",
    "Set the password": "Imposta la password", "A new password ends the user's open sessions.":
        "Una nuova password chiude le sessioni aperte dell'utente.",
    "Active (an inactive user is never assigned records by an automation)":
        "Attivo (a un utente non attivo le automazioni non assegnano mai schede)",
    "Only an admin changes the users: ask one to.": "Solo un amministratore modifica gli utenti: chiedi a uno.",
    "choose staff or admin": "scegli staff o amministratore",
    "This is the console's last admin: make another user admin first.":
        "È l'ultimo amministratore della console: prima rendi amministratore un altro utente.",
    "A password has {min} to {max} characters.": "Una password ha da {min} a {max} caratteri.",
    "write the new password": "scrivi la nuova password",
    # pipelines (api/console/pipeline_pages.py)
    "Pipelines": "Pipeline", "New pipeline": "Nuova pipeline", "No pipeline yet.": "Ancora nessuna pipeline.",
    "Record types": "Tipologie di scheda", "Statuses": "Stati", "{n} automations": "{n} automazioni", "1 automation": "1 automazione",
    "Edit a pipeline": "Modifica una pipeline", "The pipeline (YAML)": "La pipeline (YAML)",
    "Only an admin saves pipelines: ask one to save it.":
        "Solo un amministratore salva le pipeline: chiedi a uno di salvarla.",
    # making a record, changing one (api/console/record_forms.py)
    "Its records": "Le sue schede",  # the records a contact is the contact of
    "New record": "Nuova scheda", "Edit the record": "Modifica la scheda", "Save the record": "Salva la scheda",
    "Create the record": "Crea la scheda", "The record was created.": "La scheda è stata creata.",
    "The record was saved.": "La scheda è stata salvata.", "Fields": "Campi",
    "Fields (one per line, name: value)": "Campi (uno per riga, nome: valore)",
    "Kept as they are (change them through the API): {names}":
        "Lasciati come sono (si cambiano tramite l'API): {names}",
    "A record of a type its pipeline governs enters the type's first status, and its automations run.":
        "Una scheda di un tipo governato da una pipeline entra nel primo stato del tipo, e le sue automazioni partono.",
    "line {n}: write each field as name: value": "riga {n}: scrivi ogni campo come nome: valore",
    "line {n}: the field '{name}' is given twice": "riga {n}: il campo '{name}' è scritto due volte",
    "choose the owner": "scegli il titolare",
    # what the decision after a phase reads of its answers (api/console/decisions_read.py)
    "The decision after this phase reads:": "La decisione dopo questa fase legge:",
    "Complete without these answers": "Completa senza queste risposte",
    "The decision after this phase reads {what}: answer it, or tick “{without}”.":
        "La decisione dopo questa fase legge {what}: rispondi, oppure spunta “{without}”.",
    "or": "o", "a number": "un numero",
    "The decision compares '{name}' with numbers: write a number, such as {example}.":
        "La decisione confronta '{name}' con dei numeri: scrivi un numero, come {example}.",
    "a whole number answer is at most 9007199254740991 either way (a larger one loses digits)":
        "una risposta intera va da -9.007.199.254.740.991 a 9.007.199.254.740.991 (oltre perde cifre)",
    # a file to import refused as it arrives (crm/imports/reading.FileUnreadable)
    "the file is not {encoding}: {reason} at byte {start} of its first line":
        "il file non è in {encoding}: {reason} al byte {start} della prima riga",
    "the file is empty: its first line must name the columns":
        "il file è vuoto: la prima riga deve nominare le colonne",
    "row 1: the header line is longer than {limit} characters": "riga 1: l'intestazione supera {limit} caratteri",
    "row {row}: {error}": "riga {row}: {error}",
    "the header names a column twice or leaves one unnamed: {columns}":
        "l'intestazione nomina una colonna due volte o ne lascia una senza nome: {columns}",
    "row {row}: the file is not {encoding} ({reason})": "riga {row}: il file non è in {encoding} ({reason})",
    "row {row}: a line is longer than {limit} characters": "riga {row}: una riga supera {limit} caratteri",
    "row {row}: a cell opens with a quote (\") that is never closed, so the rest of the file was read into it: close "
    "the quote or remove it":
        "riga {row}: una cella si apre con una virgoletta (\") che non si chiude mai, quindi il resto del file è stato "
        "letto al suo interno: chiudere la virgoletta o toglierla",
    "row {row}: a cell is longer than {limit} characters (a quote that opens a cell and is never closed reads the rest "
    "of the file into it)":
        "riga {row}: una cella supera {limit} caratteri (una virgoletta che apre una cella e non si chiude mai vi fa "
        "leggere tutto il resto del file)",
    "the file is {kind}, not a CSV file: {advice}": "il file è {kind}, non un file CSV: {advice}",
    "a spreadsheet (XLSX or ODS) or a ZIP archive": "un foglio di calcolo (XLSX o ODS) o un archivio ZIP",
    "an Excel 97-2003 workbook (XLS)": "una cartella di lavoro di Excel 97-2003 (XLS)",
    "a PDF": "un PDF",
    "an image (JPEG)": "un'immagine (JPEG)",
    "an image (PNG)": "un'immagine (PNG)",
    "an image (GIF)": "un'immagine (GIF)",
    "in the spreadsheet, Save as (or Download as) 'CSV UTF-8' and send that file":
        "nel foglio di calcolo, usa Salva con nome (o Scarica come) 'CSV UTF-8' e invia quel file",
    "export the list from where it was made as CSV": "esporta l'elenco come CSV da dove è stato creato",
    "send the CSV file of the list": "invia il file CSV dell'elenco",
    "not text (an archive, a database or a program's own file)":
        "non è testo (un archivio, un database o un file di un programma)",
    "the file is UTF-16, as Excel saves 'Unicode text': save it as 'CSV UTF-8' and send it again":
        "il file è in UTF-16, come Excel salva il 'Testo Unicode': salvarlo come 'CSV UTF-8' e inviarlo di nuovo",
    # how an import ended (api/console/import_pages.outcome)
    "{n} row written": "{n} riga scritta",
    "{n} rows written": "{n} righe scritte",
    "{n} row rejected": "{n} scartata",
    "{n} rows rejected": "{n} scartate",
    "{n} invalid row: nothing was written (all or nothing)":
        "{n} riga non valida: non è stato scritto nulla (tutto o niente)",
    "{n} invalid rows: nothing was written (all or nothing)":
        "{n} righe non valide: non è stato scritto nulla (tutto o niente)",
    "free field “{name}”": "campo libero “{name}”",
    # why an import wrote nothing (crm/imports/run.py, crm/imports/sweep.py)
    "{reason}: nothing was written": "{reason}: non è stato scritto nulla",
    "stopped ({error}): nothing was written": "interrotta ({error}): non è stato scritto nulla",
    "interrupted: no progress since {seen} UTC ({why}); nothing was written, send the file again":
        "interrotta: nessun avanzamento dal {seen} UTC ({why}); non è stato scritto nulla, invia di nuovo il file",
    "the API stopped during the import": "l'API si è fermata durante l'importazione",
    "the API stopped before its rows were read, or the mapping of its columns was never confirmed":
        "l'API si è fermata prima di leggerne le righe, o la corrispondenza delle colonne non è mai stata confermata",
    # who did something (api/console/actors.py)
    "API key “{name}”": "chiave API “{name}”",
    "Temporal (the run cancelled there)": "Temporal (esecuzione annullata lì)",
    "the loop guard": "il controllo dei cicli",
    "autostart": "avvio automatico",
    "the client": "il cliente",
    "the pipeline's automation": "l'automazione della pipeline",
    "process {name}": "processo {name}",
    "pipeline {name}": "pipeline {name}",
    # a move refused (crm/pipeline_moves.py), a thing not found, a file not kept (crm/documents/sniff.py)
    "record {record} is in '{current}', not '{expected}'":
        "la scheda {record} è in '{current}', non in '{expected}' (è stata spostata nel frattempo)",
    "record {record} is already in '{current}'": "la scheda {record} è già in '{current}'",
    "record {record} ({kind} of type '{type}') cannot move from '{current}' to '{to}'; allowed next: {allowed}":
        "la scheda {record} ({kind} di tipo '{type}') non può passare da '{current}' a '{to}'; può passare a: "
        "{allowed}",
    "record {record} ({kind} of type '{type}') cannot move from '{current}' to '{to}': no move leads on from "
    "'{current}'": "la scheda {record} ({kind} di tipo '{type}') non può passare da '{current}' a '{to}': da "
                   "'{current}' non si passa ad altri stati",
    "status '{current}' of record {record} has no substate '{substate}'; its substates: {substates}":
        "lo stato '{current}' della scheda {record} non ha il sottostato '{substate}'; i suoi sottostati: {substates}",
    "status '{current}' of record {record} has no substate '{substate}'":
        "lo stato '{current}' della scheda {record} non ha il sottostato '{substate}'",
    "substate '{substate}' of record {record} is open already":
        "il sottostato '{substate}' della scheda {record} è già aperto",
    "substate '{substate}' of record {record} is not open":
        "il sottostato '{substate}' della scheda {record} non è aperto",
    "no record {id}": "nessuna scheda {id}",
    # the console's own words for it: the choice is on the record's page, under the message
    "record {record} has {n} pending client request(s) whose answers would move it from '{current}': choose below "
    "what becomes of them, then move it again":
        "la scheda {record} ha richieste al cliente in attesa ({n}) le cui risposte la sposterebbero da '{current}': "
        "scegli qui sotto che cosa farne, poi spostala di nuovo",
    "no process {id}": "nessun processo {id}",
    "no client request {id}": "nessuna richiesta al cliente {id}",
    "no import {id}": "nessuna importazione {id}",
    "no case {id}": "nessuna pratica {id}",
    "no task {id}": "nessuna attività {id}",
    "no template '{key}'{hint}": "nessun modello '{key}'{hint}",
    "template '{key}' has no version {version}": "il modello '{key}' non ha la versione {version}",
    "no request template '{key}'{hint}": "nessun modello di richiesta '{key}'{hint}",
    "request template '{key}' has no version {version}": "il modello di richiesta '{key}' non ha la versione {version}",
    "import {id} has no rejected rows (yet)": "l'importazione {id} non ha (ancora) righe scartate",
    "client request {id} is {status}: it cannot be cancelled":
        "la richiesta al cliente {id} è {status}: non si può annullare",
    "client request {id} is {status}: it cannot be resent":
        "la richiesta al cliente {id} è {status}: non si può inviare di nuovo",
    "client request {id} is linked to record {record} already":
        "la richiesta al cliente {id} è già collegata alla scheda {record}",
    "a reminder needs a due time": "un promemoria richiede una scadenza",
    "unknown task category '{category}' (the categories are {categories})":
        "categoria di attività sconosciuta '{category}' (le categorie sono {categories})",
    "{name} is empty": "{name} è vuoto",
    "{name} is named as text, but its content is not UTF-8 text (a NUL byte, or bytes UTF-8 does not allow, as in "
    "Windows-1252 or UTF-16): save it as UTF-8":
        "{name} ha il nome di un file di testo, ma il suo contenuto non è testo UTF-8 (un byte NUL, o byte che UTF-8 "
        "non ammette, come in Windows-1252 o UTF-16): salvalo come UTF-8",
    "{name}: its content is none of the kinds kept (PDF, PNG, JPEG, GIF, WebP, DOCX, XLSX, ODT, plain text or CSV)":
        "{name}: il suo contenuto non è di nessuno dei tipi accettati (PDF, PNG, JPEG, GIF, WebP, DOCX, XLSX, ODT, "
        "testo semplice o CSV)",
    "{name}: its content is {kind}, so its name ends in {endings}: rename it, or send the file its name says":
        "{name}: il suo contenuto è {kind}, quindi il suo nome finisce in {endings}: rinominalo, o invia il file che "
        "il nome indica",
    "{name} was sent as {declared}, but its content is {kind}": "{name} è stato inviato come {declared}, ma il suo "
                                                                 "contenuto è {kind}",
}
