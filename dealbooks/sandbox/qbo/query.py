"""The QBO query language: parser and evaluator.

``SELECT * | COUNT(*) | f1, f2 FROM Entity [WHERE c AND c ...] [ORDERBY f [ASC|DESC], ...]
[STARTPOSITION n] [MAXRESULTS n]`` with ``=, <, >, <=, >=, IN (...), LIKE '%x%'``; no OR, no JOIN.
Strings are single-quoted with ``\\'`` escaping a quote. Name lists return only active records unless
the query mentions ``Active``. Results of a query (before paging) are cached per entity version, so
paging through 100,000 records costs one scan.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dealbooks.sandbox.qbo import errors, util
from dealbooks.sandbox.qbo.store import Company

MAX_RESULTS = 1000
DEFAULT_MAX_RESULTS = 100
_META = ["Id", "MetaData.CreateTime", "MetaData.LastUpdatedTime"]
FILTERABLE: dict[str, list[str]] = {
    "Invoice": _META + ["DocNumber", "TxnDate", "DueDate", "CustomerRef", "Balance", "TotalAmt", "EmailStatus",
                        "ClassRef", "DepartmentRef"],
    "Payment": _META + ["TxnDate", "CustomerRef", "TotalAmt", "PaymentRefNum"],
    "Customer": _META + ["DisplayName", "GivenName", "FamilyName", "CompanyName", "FullyQualifiedName",
                         "PrimaryEmailAddr", "Active", "Balance", "Job"],
    "Vendor": _META + ["DisplayName", "GivenName", "FamilyName", "CompanyName", "Active", "Balance"],
    "Employee": _META + ["DisplayName", "GivenName", "FamilyName", "Active"],
    "Item": _META + ["Name", "Sku", "Type", "Active", "FullyQualifiedName", "UnitPrice", "Taxable"],
    "Account": _META + ["Name", "AccountType", "AccountSubType", "Classification", "Active", "FullyQualifiedName",
                        "CurrentBalance", "AcctNum"],
    "Term": _META + ["Name", "Active", "DueDays"],
    "TaxCode": _META + ["Name", "Active", "Taxable"],
    "TaxRate": _META + ["Name", "Active"],
    "CompanyInfo": _META,
    "Preferences": _META,
}
ACTIVE_LISTS = {"Customer", "Vendor", "Employee", "Item", "Account", "Term", "TaxCode", "TaxRate"}
NUMERIC = {"Balance", "TotalAmt", "UnitPrice", "CurrentBalance", "DueDays", "Id"}
INSTANTS = {"MetaData.CreateTime", "MetaData.LastUpdatedTime"}
_TOKEN = re.compile(r"\s*(?:(?P<str>'(?:\\.|[^'\\])*')|(?P<num>-?\d+(?:\.\d+)?)(?![\w.])|"
                    r"(?P<op><=|>=|<>|!=|=|<|>|\(|\)|,|\*)|(?P<word>[A-Za-z_][\w.]*))")


@dataclass
class Query:
    """A parsed query."""

    entity: str
    count: bool = False
    fields: list[str] = field(default_factory=list)
    where: list[tuple[str, str, Any]] = field(default_factory=list)
    order: list[tuple[str, bool]] = field(default_factory=list)
    start: int = 1
    max_results: int = DEFAULT_MAX_RESULTS


def _tokens(text: str) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    pos = 0
    text = text.strip().rstrip(";")
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise errors.query_parse_error(f'Encountered "{text[pos:pos + 10]}" at column {pos + 1}.')
        pos = match.end()
        kind = match.lastgroup
        raw = match.group(kind)
        if kind == "str":
            out.append(("str", re.sub(r"\\(.)", r"\1", raw[1:-1])))
        elif kind == "num":
            out.append(("num", float(raw)))
        else:
            out.append((kind, raw))
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.toks = _tokens(text)
        self.i = 0

    def peek(self) -> tuple[str, Any] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def word(self, *expected: str) -> bool:
        tok = self.peek()
        if tok and tok[0] == "word" and tok[1].upper() in expected:
            self.i += 1
            return True
        return False

    def take(self, kind: str, value: str | None = None) -> Any:
        tok = self.peek()
        if tok is None or tok[0] != kind or (value is not None and str(tok[1]).upper() != value):
            found = "<EOF>" if tok is None else tok[1]
            raise errors.query_parse_error(f'Encountered "{found}" at token {self.i + 1}. Was expecting '
                                           f'{value or kind}.')
        self.i += 1
        return tok[1]

    def value(self) -> Any:
        tok = self.peek()
        if tok and tok[0] in ("str", "num"):
            self.i += 1
            return tok[1]
        if tok and tok[0] == "word" and tok[1].lower() in ("true", "false"):
            self.i += 1
            return tok[1].lower() == "true"
        raise errors.query_parse_error(f'Encountered "{tok[1] if tok else "<EOF>"}". Was expecting a value.')

    def parse(self) -> Query:
        self.take("word", "SELECT")
        count, fields = False, []
        if self.word("COUNT"):
            self.take("op", "(")
            self.take("op", "*")
            self.take("op", ")")
            count = True
        else:
            while True:
                tok = self.peek()
                if tok and tok[0] == "op" and tok[1] == "*":
                    self.i += 1
                    fields.append("*")
                else:
                    fields.append(self.take("word"))
                if not (self.peek() and self.peek() == ("op", ",")):
                    break
                self.i += 1
        self.take("word", "FROM")
        query = Query(entity=self.take("word"), count=count, fields=fields)
        if self.word("WHERE"):
            while True:
                query.where.append(self.condition())
                if not self.word("AND"):
                    break
        if self.word("ORDERBY") or (self.word("ORDER") and self.take("word", "BY")):
            while True:
                name = self.take("word")
                desc = self.word("DESC")
                if not desc:
                    self.word("ASC")
                query.order.append((name, desc))
                if not (self.peek() == ("op", ",")):
                    break
                self.i += 1
        if self.word("STARTPOSITION"):
            query.start = int(self.take("num"))
        if self.word("MAXRESULTS"):
            query.max_results = int(self.take("num"))
        if self.peek() is not None:
            raise errors.query_parse_error(f'Encountered "{self.peek()[1]}" at token {self.i + 1}.')
        return query

    def condition(self) -> tuple[str, str, Any]:
        name = self.take("word")
        if self.word("IN"):
            self.take("op", "(")
            values = [self.value()]
            while self.peek() == ("op", ","):
                self.i += 1
                values.append(self.value())
            self.take("op", ")")
            return name, "IN", values
        if self.word("LIKE"):
            return name, "LIKE", self.value()
        tok = self.peek()
        if not tok or tok[0] != "op" or tok[1] not in ("=", "<", ">", "<=", ">="):
            raise errors.query_parse_error(f'Encountered "{tok[1] if tok else "<EOF>"}" after "{name}".')
        self.i += 1
        return name, tok[1], self.value()


def parse(text: str) -> Query:
    """Parse and validate a query text.

    Raises:
        QboFault: 4000 (parse error) or 4001 (invalid query).
    """
    query = _Parser(text).parse()
    canonical = {name.lower(): name for name in FILTERABLE}
    entity = canonical.get(query.entity.lower())
    if entity is None:
        raise errors.query_validation_error(f"Invalid entity {query.entity}")
    query.entity = entity
    allowed = {f.lower(): f for f in FILTERABLE[entity]}
    where = []
    for name, op, value in query.where:
        if name.lower() not in allowed:
            raise errors.query_validation_error(f"property '{name}' is not queryable")
        where.append((allowed[name.lower()], op, value))
    query.where = where
    query.order = [(allowed.get(n.lower(), n), d) for n, d in query.order]
    if query.max_results > MAX_RESULTS or query.max_results < 1:
        raise errors.query_validation_error(f"value {query.max_results} is too large. Max allowed value is "
                                            f"{MAX_RESULTS}" if query.max_results > MAX_RESULTS
                                            else "MAXRESULTS must be at least 1")
    if query.start < 1:
        raise errors.query_validation_error("STARTPOSITION must be at least 1")
    return query


def _getter(company: Company, entity: str, name: str) -> Callable[[dict[str, Any]], Any]:
    if name == "MetaData.LastUpdatedTime":
        changes = company.doc["changes"].get(entity, {})
        return lambda rec: changes.get(rec["Id"]) or util.epoch_of(rec["MetaData"]["LastUpdatedTime"])
    if name == "MetaData.CreateTime":
        return lambda rec: util.epoch_of(rec["MetaData"]["CreateTime"])
    if name == "Id":
        return lambda rec: int(rec["Id"]) if str(rec["Id"]).isdigit() else rec["Id"]
    numeric = name in NUMERIC

    def get(rec: dict[str, Any]) -> Any:
        value = rec.get(name)
        if isinstance(value, dict):
            value = value.get("value", value.get("Address"))
        if numeric and value is not None:
            return float(value)
        return value.casefold() if isinstance(value, str) else value
    return get


def _coerce(company: Company, name: str, value: Any) -> Any:
    if name in INSTANTS:
        try:
            return util.parse_instant(str(value), company.zone).timestamp()
        except ValueError as exc:
            raise errors.query_validation_error(f"invalid date/time value '{value}' for {name}") from exc
    if name in NUMERIC:
        try:
            return float(value) if name != "Id" or str(value).replace(".0", "").isdigit() else value
        except ValueError as exc:
            raise errors.query_validation_error(f"invalid number '{value}' for {name}") from exc
    if isinstance(value, float) and value == int(value):
        value = str(int(value))
    return value.casefold() if isinstance(value, str) else value


def _predicate(company: Company, entity: str, name: str, op: str, value: Any) -> Callable[[dict[str, Any]], bool]:
    get = _getter(company, entity, name)
    if op == "IN":
        wanted = {_coerce(company, name, v) for v in value}
        if name == "Id":
            wanted = {int(v) if isinstance(v, float) else v for v in wanted}
        return lambda rec: get(rec) in wanted
    target = _coerce(company, name, value)
    if name == "Id" and isinstance(target, float):
        target = int(target)
    if op == "LIKE":
        pattern = re.compile("^" + ".*".join(re.escape(p) for p in str(target).split("%")) + "$", re.S)
        return lambda rec: isinstance(get(rec), str) and pattern.match(get(rec)) is not None
    compare = {"=": lambda a: a == target, "<": lambda a: a < target, ">": lambda a: a > target,
               "<=": lambda a: a <= target, ">=": lambda a: a >= target}[op]

    def check(rec: dict[str, Any]) -> bool:
        actual = get(rec)
        if actual is None:
            return False
        try:
            return bool(compare(actual))
        except TypeError:
            return False
    return check


def matching_ids(company: Company, query: Query) -> list[str]:
    """Ids matching WHERE (+ implicit Active) in ORDERBY order; cached per entity version."""
    key = (query.entity, tuple((n, o, tuple(v) if isinstance(v, list) else v) for n, o, v in query.where),
           tuple(query.order))
    cached = company.query_cache.get(key)
    if cached is not None and cached[0] == company.version(query.entity):
        return cached[1]
    where = list(query.where)
    if query.entity in ACTIVE_LISTS and not any(n == "Active" for n, _, _ in where):
        where.append(("Active", "=", True))
    preds = [_predicate(company, query.entity, n, o, v) for n, o, v in where]
    records = [r for r in company.table(query.entity).values() if all(p(r) for p in preds)]
    for name, desc in reversed(query.order):
        get = _getter(company, query.entity, name)
        records.sort(key=lambda r: (get(r) is None, get(r) if get(r) is not None else 0), reverse=desc)
    ids = [r["Id"] for r in records]
    if len(company.query_cache) > 32:
        company.query_cache.clear()
    company.query_cache[key] = (company.version(query.entity), ids)
    return ids


def _project(rec: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    if "*" in fields:
        return rec
    out = {f: rec[f] for f in fields if f in rec}
    out.update(Id=rec["Id"], domain="QBO", sparse=True)
    return out


def execute(company: Company, text: str, decorate: Callable[[str, dict[str, Any]], dict[str, Any]]) -> dict[str, Any]:
    """Run a query; returns the ``QueryResponse`` object (``{}`` when nothing matched)."""
    query = parse(text)
    ids = matching_ids(company, query)
    if query.count:
        return {"totalCount": len(ids)}
    page = ids[query.start - 1:query.start - 1 + query.max_results]
    if not page:
        return {}
    table = company.table(query.entity)
    rows = [_project(decorate(query.entity, table[i]), query.fields) for i in page if i in table]
    return {query.entity: rows, "startPosition": query.start, "maxResults": len(rows)}
