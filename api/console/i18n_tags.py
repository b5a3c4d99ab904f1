"""The Italian of the tags' pages (api.console.tag_pages), and of what the API says refusing a change of a tag
(api/routers/tags.py), merged into api.console.i18n.ITALIAN."""

from __future__ import annotations

ITALIAN_TAGS: dict[str, str] = {
    "Tags: rename, merge or delete one": "Etichette: rinominarne, unirne o eliminarne una",
    "Tags label cases. One tag's name is the same in any case: Urgente and urgente are one tag.":
        "Le etichette contrassegnano le pratiche. Maiuscole e minuscole non contano: Urgente e urgente sono "
        "un'etichetta sola.",
    "Search tags": "Cerca etichette",
    "No tag found.": "Nessuna etichetta trovata.",
    "No tag yet.": "Ancora nessuna etichetta.",
    "The first {n} tags are listed: search to find others.":
        "Sono elencate le prime {n} etichette: cerca per trovarne altre.",
    "Add a tag": "Aggiungi un'etichetta",
    "Add the tag": "Aggiungi l'etichetta",
    "The tag was added.": "L'etichetta è stata aggiunta.",
    "The tag was renamed on every case.": "L'etichetta è stata rinominata su ogni pratica.",
    "The tags were merged: their cases carry this one.":
        "Le etichette sono state unite: le loro pratiche hanno questa.",
    "The tag was deleted and taken off its cases.": "L'etichetta è stata eliminata e tolta dalle sue pratiche.",
    "{n} cases carry it": "{n} pratiche la portano",
    "1 case carries it": "1 pratica la porta",
    "No case you see carries it.": "Nessuna pratica che vedi la porta.",
    "Rename": "Rinomina",
    "New name": "Nuovo nome",
    "Rename on every case": "Rinomina su ogni pratica",
    "Merge into another tag": "Unisci a un'altra etichetta",
    "Into": "In",
    "choose a tag": "scegli un'etichetta",
    "Merge": "Unisci",
    "Its cases carry the other tag instead, and this one is deleted.":
        "Le sue pratiche portano l'altra etichetta al suo posto, e questa viene eliminata.",
    "No other tag.": "Nessun'altra etichetta.",
    "Delete": "Elimina",
    "Yes, delete {name} and take it off its cases": "Sì, elimina {name} e toglila dalle sue pratiche",
    "Delete the tag": "Elimina l'etichetta",
    "choose the tag to merge it into": "scegli l'etichetta a cui unirla",
    "Tick the box to confirm: the tag is taken off every case.":
        "Spunta la casella per confermare: l'etichetta viene tolta da ogni pratica.",
    "This form is not one the page sends.": "Questo modulo non è uno di quelli che la pagina invia.",
    # what the API says (worded: the values filled in by the console)
    "no tag {id}": "nessuna etichetta {id}",
    "tag '{name}' is also on cases you do not see: an admin can change it":
        "l'etichetta '{name}' è anche su pratiche che non vedi: può modificarla un amministratore",
    "tag '{name}' (tag {id}) exists: merge into it instead":
        "l'etichetta '{name}' (n. {id}) esiste già: unisci a quella",
    "tag {id} cannot be merged into itself": "l'etichetta {id} non si può unire a sé stessa",
    "a tag of that name is on cases you do not see: choose another name":
        "un'etichetta con quel nome è su pratiche che non vedi: scegli un altro nome",
}
