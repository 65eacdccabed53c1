"""A real PDF rendering of an invoice (fpdf2), as ``GET /invoice/{id}/pdf`` returns."""

from __future__ import annotations

from typing import Any


def _text(value: Any) -> str:
    """fpdf2's core fonts are latin-1; replace what they cannot draw."""
    return str(value if value is not None else "").encode("latin-1", "replace").decode("latin-1")


def invoice_pdf(company_name: str, invoice: dict[str, Any]) -> bytes:
    """Render the invoice: header, bill-to, dates, lines, totals, balance due."""
    from fpdf import FPDF  # imported lazily: only PDF requests pay for it

    pdf = FPDF(format="Letter")
    pdf.set_title(_text(f"Invoice {invoice.get('DocNumber') or invoice['Id']}"))
    pdf.set_creator("dealbooks QBO sandbox")
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 18)
    pdf.cell(0, 10, _text(company_name), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "B", 14)
    pdf.cell(0, 8, _text(f"INVOICE {invoice.get('DocNumber') or ''}"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=10)
    customer = invoice.get("CustomerRef", {})
    pdf.cell(0, 6, _text(f"Bill to: {customer.get('name') or customer.get('value')}"), new_x="LMARGIN", new_y="NEXT")
    if invoice.get("BillEmail", {}).get("Address"):
        pdf.cell(0, 6, _text(invoice["BillEmail"]["Address"]), new_x="LMARGIN", new_y="NEXT")
    pdf.cell(0, 6, _text(f"Date: {invoice.get('TxnDate', '')}    Due: {invoice.get('DueDate', '')}    "
                         f"Terms: {invoice.get('SalesTermRef', {}).get('name', '')}"), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font("Helvetica", "B", 10)
    for label, width in (("Description", 100), ("Qty", 20), ("Rate", 30), ("Amount", 30)):
        pdf.cell(width, 7, label, border=1)
    pdf.ln()
    pdf.set_font("Helvetica", size=10)
    currency = invoice.get("CurrencyRef", {}).get("value", "")
    for line in invoice.get("Line", []):
        if line.get("DetailType") == "SubTotalLineDetail":
            continue
        detail = line.get("SalesItemLineDetail", {})
        description = line.get("Description") or detail.get("ItemRef", {}).get("name", "")
        pdf.cell(100, 7, _text(str(description)[:60]), border=1)
        pdf.cell(20, 7, _text(detail.get("Qty", "")), border=1)
        pdf.cell(30, 7, _text(detail.get("UnitPrice", "")), border=1)
        pdf.cell(30, 7, f"{float(line.get('Amount', 0)):,.2f}", border=1)
        pdf.ln()
    pdf.ln(3)
    tax = invoice.get("TxnTaxDetail", {}).get("TotalTax", 0)
    for label, value in (("Tax", tax), ("Total", invoice.get("TotalAmt", 0)),
                         ("Balance due", invoice.get("Balance", 0))):
        pdf.cell(150, 7, _text(f"{label} {currency}"), align="R")
        pdf.cell(30, 7, f"{float(value or 0):,.2f}", align="R", new_x="LMARGIN", new_y="NEXT")
    if invoice.get("PrivateNote", "").startswith("Voided"):
        pdf.set_font("Helvetica", "B", 28)
        pdf.cell(0, 20, "VOID", align="C")
    return bytes(pdf.output())
