"""Real QBO payload shapes, trimmed, from /work/shared/reference/qbo (see its SOURCES.md).

Invoices keep the fields status derivation reads; Line/address blocks and the JAXB ``LineEx``
of payments are dropped. Source file noted on each constant.
"""

from __future__ import annotations

from typing import Any


# sandbox_records/invoice_130.json
INVOICE_OPEN_130: dict[str, Any] = {'Id': '130',
 'SyncToken': '0',
 'MetaData': {'CreateTime': '2023-02-18T13:16:17-08:00',
              'LastUpdatedTime': '2023-02-18T13:16:17-08:00'},
 'DocNumber': '1037',
 'TxnDate': '2023-02-18',
 'CurrencyRef': {'value': 'USD', 'name': 'United States Dollar'},
 'LinkedTxn': [{'TxnId': '100', 'TxnType': 'Estimate'}],
 'CustomerRef': {'value': '24', 'name': 'Sonnenschein Family Store'},
 'DueDate': '2023-03-20',
 'TotalAmt': 362.07,
 'Balance': 362.07,
 'EmailStatus': 'NotSet',
 'BillEmail': {'Address': 'Familiystore@intuit.com'},
 'domain': 'QBO'}


# sandbox_records/invoice_12.json
INVOICE_PAID_TWO_PAYMENTS_12: dict[str, Any] = {'Id': '12',
 'SyncToken': '3',
 'MetaData': {'CreateTime': '2023-02-15T15:04:04-08:00',
              'LastUpdatedTime': '2023-02-18T12:59:21-08:00'},
 'DocNumber': '1004',
 'TxnDate': '2023-02-06',
 'CurrencyRef': {'value': 'USD', 'name': 'United States Dollar'},
 'LinkedTxn': [{'TxnId': '120', 'TxnType': 'Payment'}, {'TxnId': '61', 'TxnType': 'Payment'}],
 'CustomerRef': {'value': '3', 'name': 'Cool Cars'},
 'DueDate': '2023-03-08',
 'TotalAmt': 2369.52,
 'Balance': 0,
 'EmailStatus': 'NotSet',
 'BillEmail': {'Address': 'Cool_Cars@intuit.com'},
 'domain': 'QBO'}


# sandbox_records/invoice_96.json
INVOICE_PAID_96: dict[str, Any] = {'Id': '96',
 'SyncToken': '1',
 'MetaData': {'CreateTime': '2023-02-17T13:30:49-08:00',
              'LastUpdatedTime': '2023-02-18T13:13:33-08:00'},
 'DocNumber': '1031',
 'TxnDate': '2022-12-04',
 'CurrencyRef': {'value': 'USD', 'name': 'United States Dollar'},
 'LinkedTxn': [{'TxnId': '128', 'TxnType': 'Payment'}],
 'CustomerRef': {'value': '8', 'name': '0969 Ocean View Road'},
 'DueDate': '2023-01-03',
 'TotalAmt': 387.0,
 'Balance': 0,
 'EmailStatus': 'NotSet',
 'BillEmail': {'Address': 'Sporting_goods@intuit.com'},
 'domain': 'QBO'}


# invoice_void_response_official_129.json
INVOICE_VOIDED_129: dict[str, Any] = {'Id': '129',
 'SyncToken': '1',
 'MetaData': {'CreateTime': '2014-11-09T13:15:36-08:00',
              'LastUpdatedTime': '2016-03-16T12:27:10-07:00'},
 'DocNumber': '1036',
 'TxnDate': '2014-11-09',
 'LinkedTxn': [],
 'CustomerRef': {'name': '0969 Ocean View Road', 'value': '8'},
 'DueDate': '2014-12-09',
 'TotalAmt': 0,
 'Balance': 0,
 'Deposit': 0,
 'EmailStatus': 'NOT_SET',
 'BillEmail': {'Address': 'Sporting_goods@intuit.com'},
 'PrivateNote': 'Voided',
 'domain': 'QBO'}


# invoice_read_emailsent_javasdk_20246.json
INVOICE_EMAIL_SENT_20246: dict[str, Any] = {'Id': '20246',
 'SyncToken': '0',
 'MetaData': {'CreateTime': '2015-08-10T11:33:46-07:00',
              'LastUpdatedTime': '2015-08-10T16:30:47-07:00'},
 'DocNumber': '4020',
 'TxnDate': '2015-08-10',
 'CurrencyRef': {'value': 'USD', 'name': 'United States Dollar'},
 'LinkedTxn': [],
 'CustomerRef': {'value': '4841', 'name': 'fc444465-95c0-43b6-9395-c'},
 'DueDate': '2015-08-10',
 'TotalAmt': 100055.55,
 'Balance': 100055.55,
 'Deposit': 0,
 'EmailStatus': 'EmailSent',
 'BillEmail': {'Address': 'javasdk-fake-email@gmail.com'},
 'PrivateNote': 'Opening Balance',
 'DeliveryInfo': {'DeliveryType': 'Email', 'DeliveryTime': '2015-08-10T16:30:47-07:00'},
 'domain': 'QBO'}


# invoice_send_response_official_96.json
INVOICE_SENT_PARTIAL_96: dict[str, Any] = {'Id': '96',
 'SyncToken': '0',
 'MetaData': {'CreateTime': '2013-03-14T01:42:16-07:00',
              'LastUpdatedTime': '2014-12-17T11:50:58-08:00'},
 'DocNumber': 'Sample_Inv#2',
 'TxnDate': '2013-03-14',
 'CurrencyRef': {'name': 'United States Dollar', 'value': 'USD'},
 'CustomerRef': {'name': 'Mr V3 Service Customer Jr2', 'value': '15'},
 'DueDate': '2013-05-13',
 'TotalAmt': 52.0,
 'Balance': 40.0,
 'Deposit': 12.0,
 'EmailStatus': 'EmailSent',
 'BillEmail': {'Address': 'test@intuit.com'},
 'PrivateNote': 'Summary for sample invoice',
 'DeliveryInfo': {'DeliveryType': 'Email', 'DeliveryTime': '2014-12-17T11:50:52-08:00'},
 'domain': 'QBO'}


# invoice_delete_response_official.json
INVOICE_DELETED_33: dict[str, Any] = {'Id': '33', 'status': 'Deleted', 'domain': 'QBO'}


# sandbox_records/payment_120.json
PAYMENT_120: dict[str, Any] = {'CustomerRef': {'value': '3', 'name': 'Cool Cars'},
 'TotalAmt': 1675.52,
 'UnappliedAmt': 0,
 'domain': 'QBO',
 'Id': '120',
 'SyncToken': '0',
 'MetaData': {'CreateTime': '2023-02-18T12:59:21-08:00',
              'LastUpdatedTime': '2023-02-18T12:59:21-08:00'},
 'TxnDate': '2023-02-18',
 'CurrencyRef': {'value': 'USD', 'name': 'United States Dollar'},
 'Line': [{'Amount': 1675.52, 'LinkedTxn': [{'TxnId': '12', 'TxnType': 'Invoice'}]}]}


# sandbox_records/payment_101.json
PAYMENT_PARTIAL_101: dict[str, Any] = {'CustomerRef': {'value': '1', 'name': "Amy's Bird Sanctuary"},
 'TotalAmt': 220.0,
 'UnappliedAmt': 0,
 'domain': 'QBO',
 'Id': '101',
 'SyncToken': '0',
 'MetaData': {'CreateTime': '2023-02-17T13:39:32-08:00',
              'LastUpdatedTime': '2023-02-17T13:39:32-08:00'},
 'TxnDate': '2023-02-17',
 'CurrencyRef': {'value': 'USD', 'name': 'United States Dollar'},
 'LinkedTxn': [{'TxnId': '121', 'TxnType': 'Deposit'}],
 'Line': [{'Amount': 220.0, 'LinkedTxn': [{'TxnId': '67', 'TxnType': 'Invoice'}]}]}


# payment_official_163.json
PAYMENT_UNAPPLIED_163: dict[str, Any] = {'SyncToken': '0',
 'domain': 'QBO',
 'UnappliedAmt': 10.0,
 'TxnDate': '2015-01-16',
 'TotalAmt': 65.0,
 'Line': [{'Amount': 55.0, 'LinkedTxn': [{'TxnId': '70', 'TxnType': 'Invoice'}]}],
 'CustomerRef': {'name': 'Red Rock Diner', 'value': '20'},
 'Id': '163',
 'MetaData': {'CreateTime': '2015-01-16T15:08:12-08:00',
              'LastUpdatedTime': '2015-01-16T15:08:12-08:00'}}


# payment_void_response_official_125.json
PAYMENT_VOIDED_125: dict[str, Any] = {'CustomerRef': {'value': '20', 'name': 'Red Rock Diner'},
 'TotalAmt': 0,
 'UnappliedAmt': 0,
 'PrivateNote': 'Voided',
 'domain': 'QBO',
 'Id': '125',
 'SyncToken': '1',
 'Line': []}


def invoice(base: dict[str, Any] | None = None, **changes: Any) -> dict[str, Any]:
    """A deep copy of ``base`` (default: open invoice 130) with top-level fields replaced."""
    import copy

    data = copy.deepcopy(base if base is not None else INVOICE_OPEN_130)
    data.update(changes)
    return data
