"""The Italian of the deliveries page (webhooks, SMS, calls to the signing provider, webhook endpoints), merged
into api.console.i18n.ITALIAN."""

from __future__ import annotations

ITALIAN_DELIVERIES: dict[str, str] = {
    'Deliveries': 'Invii',
    'Every webhook, SMS and call to the signing provider that processes made, with its attempts, what was sent and the answer.':
        'Ogni webhook, SMS e chiamata al servizio di firma fatti dai processi, con i tentativi, ciò che è stato '
        'inviato e la risposta.',
    'No SMS gateway is set: SMS are kept here (held) instead of being sent.':
        'Nessun gateway SMS impostato: gli SMS restano qui (trattenuti) invece di essere inviati.',
    'Kind': 'Tipo',
    'Webhook': 'Webhook',
    'SMS': 'SMS',
    'Signature request': 'Richiesta di firma',
    'Signature request withdrawn': 'Richiesta di firma ritirata',
    'sending': 'in invio',
    'delivered': 'consegnato',
    'unknown': 'incerto',
    '{n} attempts': '{n} tentativi',
    '1 attempt': '1 tentativo',
    'id': 'id',
    "provider's id": 'id del fornitore',
    'Sent': 'Inviato',
    'Answer': 'Risposta',
    'No delivery.': 'Nessun invio.',
    'Tried again from {at}.': 'Nuovo tentativo dalle {at}.',
    'Webhook endpoints': 'Endpoint dei webhook',
    'Name': 'Nome',
    'Host': 'Host',
    'State': 'Stato',
    'Action': 'Azione',
    'not configured': 'non configurato',
    'disabled': 'disattivato',
    'enabled': 'attivo',
    'again by {who}, {at}': 'riattivato da {who}, {at}',
    'Enable again': 'Riattiva',
    'No webhook endpoint is configured (WEBHOOK_ENDPOINTS).':
        'Nessun endpoint di webhook configurato (WEBHOOK_ENDPOINTS).',
    'Only an admin enables a webhook endpoint again: ask one to do it.':
        'Solo un amministratore riattiva un endpoint di webhook: chiedilo a uno di loro.',
}
