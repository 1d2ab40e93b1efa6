"""A small writer of GDV VU-Vermittler files for the tests.

It follows the GDV layout (positions 1-based and inclusive, ISO-8859-1, 256 characters plus a
line end per record) independently of the importer's own constants, so a wrong position in
either shows up as a failing test.
"""

from __future__ import annotations

from dataclasses import dataclass, field


class RecordBuilder:
    def __init__(self, satzart: str, part: str | int | None = None) -> None:
        self.chars = [" "] * 256
        self.set(1, 4, satzart)
        if part is not None:
            self.set(256, 256, str(part))

    def set(self, start: int, end: int, value, *, numeric: bool = False) -> RecordBuilder:
        width = end - start + 1
        text = str(value)
        text = text.rjust(width, "0") if numeric else text.ljust(width)
        assert len(text) == width, f"{value!r} does not fit positions {start}-{end}"
        self.chars[start - 1 : end] = list(text)
        return self

    def key(self, vu: str, sparte: str, policy: str, folge: str = "01", buendel: str = " ") -> RecordBuilder:
        return (
            self.set(5, 9, vu)
            .set(10, 10, buendel)
            .set(11, 13, sparte)
            .set(14, 30, policy.rjust(17))
            .set(31, 32, folge)
            .set(33, 42, "4711000000")
        )

    def text(self) -> str:
        return "".join(self.chars)


@dataclass
class GdvPerson:
    name: str = "Mustermann"
    first_name: str = "Erika"
    anrede: str = "2"
    title: str = ""
    lkz: str = "D"
    plz: str = "06526"
    city: str = "Sangerhausen"
    street: str = "Hauptstraße 1"
    birth: str = "17051980"
    insurer_number: str = "KD-1001"
    broker_number: str = ""
    email: str = ""
    phone: str = ""
    familienstand: str = ""
    adresskennzeichen: str = "01"


@dataclass
class GdvContract:
    policy: str = "PH-0001"
    sparte: str = "040"
    start: str = "01012020"
    end: str = "01012030"
    main_due: str = "01012021"
    zahlungsweise: str = "1"
    status: str = "1"
    premium: str = "000000008900"  # 89,00 (12 digits, 2 implied decimals)
    currency: str = "EUR"
    folge: str = "01"
    buendel: str = " "
    person: GdvPerson = field(default_factory=GdvPerson)
    extra_records: int = 0  # 0210/0220 records the importer skips


class GdvFileWriter:
    def __init__(self, vu: str = "12345", sender: str = "Muster Versicherung AG") -> None:
        self.vu = vu
        self.sender = sender
        self.records: list[str] = []
        self.premium_cents = 0

    def vorsatz(self) -> list[str]:
        td1 = (
            RecordBuilder("0001", 1)
            .set(5, 9, self.vu)
            .set(10, 39, self.sender)
            .set(40, 69, "Makler Beispiel GmbH")
            .set(70, 85, "0101202631012026")
            .set(86, 95, "4711000000")
        )
        return [td1.text()]

    def contract(self, contract: GdvContract) -> GdvFileWriter:
        p = contract.person
        key = (self.vu, contract.sparte, contract.policy, contract.folge, contract.buendel)
        td1 = (
            RecordBuilder("0100", 1)
            .key(*key)
            .set(43, 43, p.anrede)
            .set(44, 73, p.name)
            .set(104, 133, p.first_name)
            .set(134, 153, p.title)
            .set(154, 156, p.lkz)
            .set(157, 162, p.plz)
            .set(163, 187, p.city)
            .set(188, 217, p.street)
            .set(226, 233, p.birth)
            .set(234, 236, "D")
            .set(237, 238, p.adresskennzeichen)
        )
        td2 = (
            RecordBuilder("0100", 2)
            .key(*key)
            .set(43, 59, p.insurer_number)
            .set(60, 76, p.broker_number)
            .set(157, 158, "10" if p.phone else "")
            .set(159, 178, p.phone)
            .set(246, 246, p.familienstand)
        )
        self.records += [td1.text(), td2.text()]
        if p.email:
            self.records.append(
                RecordBuilder("0100", 3).key(*key).set(43, 44, "50").set(45, 104, p.email).text()
            )
        vertrag = (
            RecordBuilder("0200", 1)
            .key(*key)
            .set(43, 43, "2")
            .set(44, 51, contract.start)
            .set(52, 59, contract.end)
            .set(60, 67, contract.main_due)
            .set(68, 68, contract.zahlungsweise)
            .set(69, 69, contract.status)
            .set(113, 115, contract.currency)
            .set(116, 127, contract.premium)
        )
        self.records.append(vertrag.text())
        for _ in range(contract.extra_records):
            self.records.append(RecordBuilder("0220", " ").key(*key).set(43, 60, "000000000000000000").text())
        if contract.premium.isdigit():
            self.premium_cents += int(contract.premium)
        return self

    def raw(self, text: str) -> GdvFileWriter:
        self.records.append(text)
        return self

    def nachsatz(self, *, count: int | None = None, total_cents: int | None = None) -> str:
        return (
            RecordBuilder("9999")
            .set(5, 14, len(self.records) if count is None else count, numeric=True)
            .set(15, 24, "4711000000")
            .set(25, 39, self.premium_cents if total_cents is None else total_cents, numeric=True)
            .set(40, 53, 0, numeric=True)
            .set(54, 54, "+")
            .text()
        )

    def lines(
        self, *, count: int | None = None, total_cents: int | None = None, nachsatz: bool = True
    ) -> list[str]:
        lines = self.vorsatz() + self.records
        if nachsatz:
            lines.append(self.nachsatz(count=count, total_cents=total_cents))
        return lines

    def build(self, *, line_end: str = "\r\n", encoding: str = "iso-8859-1", **kwargs) -> bytes:
        return "".join(line + line_end for line in self.lines(**kwargs)).encode(encoding)
