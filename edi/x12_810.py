"""The X12 810 Invoice (004010; 005010 is identical for these segments) as data.

Segment table and element definitions read from the 004010 SEF (`.SETS 810`,
`.SEGS`, `.ELMS`, `.CODES`) as summarised in edi-rules.md section 2. Code lists
marked `complete=False` are the values we know to be valid, not the whole X12
list: an unknown value there is a warning, not a reject. Segments used in the
810 but not listed in `ELEMENTS` are checked for structure only.
"""

from __future__ import annotations

from edi.elements import ElementSpec, Relation, spec
from edi.structure import Loop, Seg

_N1_LOOP = (
    Seg("N1"),
    Seg("N2", 2),
    Seg("N3", 2),
    Seg("N4"),
    Seg("REF", 12),
    Seg("PER", 3),
    Seg("DMG"),
)
_SAC_LOOP = (Seg("SAC"), Seg("TXI", 10))

TABLE: tuple[Seg | Loop, ...] = (
    # header
    Seg("ST", 1, mandatory=True),
    Seg("BIG", 1, mandatory=True),
    Seg("NTE", 100),
    Seg("CUR"),
    Seg("REF", 12),
    Seg("YNQ", 10),
    Seg("PER", 3),
    Loop("N1", _N1_LOOP, 200),
    Seg("ITD", None),
    Seg("DTM", 10),
    Seg("FOB"),
    Seg("PID", 200),
    Seg("MEA", 40),
    Seg("PWK", 25),
    Seg("PKG", 25),
    Seg("L7"),
    Seg("BAL", None),
    Seg("INC"),
    Seg("PAM", None),
    Loop("LM", (Seg("LM"), Seg("LQ", None)), None),
    Loop("N9", (Seg("N9"), Seg("MSG", 10)), None),
    Loop("V1", (Seg("V1"), Seg("R4", None), Seg("DTM", None)), None),
    Loop("FA1", (Seg("FA1"), Seg("FA2", None)), None),
    # detail
    Loop(
        "IT1",
        (
            Seg("IT1"),
            Seg("CRC"),
            Seg("QTY", 5),
            Seg("CUR"),
            Seg("IT3", 5),
            Seg("TXI", 10),
            Seg("CTP", 25),
            Seg("PAM", 10),
            Seg("MEA", 40),
            Loop("PID", (Seg("PID"), Seg("MEA", 10)), 1000),
            Seg("PWK", 25),
            Seg("PKG", 25),
            Seg("PO4"),
            Seg("ITD", 2),
            Seg("REF", None),
            Seg("YNQ", 10),
            Seg("PER", 5),
            Seg("SDQ", 500),
            Seg("DTM", 10),
            Seg("CAD", None),
            Seg("L7", None),
            Seg("SR"),
            Loop("SAC", _SAC_LOOP, 25),
            Loop(
                "SLN",
                (Seg("SLN"), Seg("DTM"), Seg("REF", None), Seg("PID", None), Seg("SAC", None),
                 Seg("TC2", None), Seg("TXI", None)),
                1000,
            ),
            Loop("N1", _N1_LOOP, 200),
            Loop("LM", (Seg("LM"), Seg("LQ", None)), None),
            Loop("V1", (Seg("V1"), Seg("R4", None), Seg("DTM", None)), None),
            Loop("FA1", (Seg("FA1"), Seg("FA2", None)), None),
        ),
        200000,
    ),
    # summary
    Seg("TDS", 1, mandatory=True),
    Seg("TXI", 10),
    Seg("CAD"),
    Seg("AMT", None),
    Loop("SAC", _SAC_LOOP, 25),
    Loop("ISS", (Seg("ISS"), Seg("PID")), None),
    Seg("CTT"),
    Seg("SE", 1, mandatory=True),
)  # fmt: skip

# X12 355 unit of measurement: the common retail/distribution values (partial list).
UNITS = (
    "EA CA BX PK DZ LB KG CS PC PR RL FT YD GA LT OZ TN HR MO BG BO CT DR GR ML SF SY UN ST KT "
    "BD BL CH CN CR DY GS IN MR MT M2 M3 PL SH SO SP SQ TB TK TU UN WK YR"
)

ELEMENTS: dict[str, dict[int, ElementSpec]] = {
    "BIG": {
        1: spec("DT", 8, 8, "invoice date", mandatory=True),
        2: spec("AN", 1, 22, "invoice number", mandatory=True),
        3: spec("DT", 8, 8, "purchase order date"),
        4: spec("AN", 1, 22, "purchase order number"),
        5: spec("AN", 1, 30, "release number"),
        6: spec("AN", 1, 8, "change order sequence number"),
        7: spec("ID", 2, 2, "transaction type", codes="CI CN CR DI DR FB FD N6 PR PP",
                complete=False),
        8: spec("ID", 2, 2, "purpose", codes="00 01 05 06 07 15 17 18 22", complete=False),
        9: spec("ID", 1, 3, "action code"),
        10: spec("AN", 1, 22, "invoice number"),
    },
    "NTE": {1: spec("ID", 3, 3, "note code"), 2: spec("AN", 1, 80, "note", mandatory=True)},
    "CUR": {
        1: spec("ID", 2, 3, "entity code", mandatory=True),
        2: spec("ID", 3, 3, "currency", mandatory=True),
    },
    "REF": {
        1: spec("ID", 2, 3, "reference qualifier", mandatory=True),
        2: spec("AN", 1, 30, "reference"),
        3: spec("AN", 1, 80, "description"),
    },
    "PER": {
        1: spec("ID", 2, 2, "contact function", mandatory=True),
        2: spec("AN", 1, 60, "contact name"),
        3: spec("ID", 2, 2, "communication qualifier"),
        4: spec("AN", 1, 80, "communication number"),
        5: spec("ID", 2, 2, "communication qualifier"),
        6: spec("AN", 1, 80, "communication number"),
    },
    "N1": {
        1: spec("ID", 2, 3, "party code", mandatory=True),
        2: spec("AN", 1, 60, "party name"),
        3: spec("ID", 1, 2, "party id qualifier"),
        4: spec("AN", 2, 80, "party id"),
    },
    "N2": {1: spec("AN", 1, 60, "name", mandatory=True), 2: spec("AN", 1, 60, "name")},
    "N3": {1: spec("AN", 1, 55, "address", mandatory=True), 2: spec("AN", 1, 55, "address")},
    "N4": {
        1: spec("AN", 2, 30, "city"),
        2: spec("ID", 2, 2, "state"),
        3: spec("ID", 3, 15, "postal code"),
        4: spec("ID", 2, 3, "country"),
    },
    "ITD": {
        1: spec("ID", 2, 2, "terms type"),
        2: spec("ID", 1, 2, "terms basis"),
        3: spec("R", 1, 6, "discount percent"),
        4: spec("DT", 8, 8, "discount due date"),
        5: spec("N0", 1, 3, "discount days"),
        6: spec("DT", 8, 8, "net due date"),
        7: spec("N0", 1, 3, "net days"),
        8: spec("N2", 1, 10, "discount amount"),
    },
    "DTM": {
        1: spec("ID", 3, 3, "date qualifier", mandatory=True),
        2: spec("DT", 8, 8, "date"),
        3: spec("TM", 4, 8, "time"),
    },
    "IT1": {
        1: spec("AN", 1, 20, "line number"),
        2: spec("R", 1, 10, "quantity"),
        3: spec("ID", 2, 2, "unit of measure", codes=UNITS, complete=False),
        4: spec("R", 1, 17, "unit price"),
        5: spec("ID", 2, 2, "price basis"),
        6: spec("ID", 2, 2, "product id qualifier"),
        7: spec("AN", 1, 48, "product id"),
    },
    "CTP": {2: spec("ID", 3, 3, "price qualifier"), 3: spec("R", 1, 17, "unit price")},
    "PID": {
        1: spec("ID", 1, 1, "description type", mandatory=True, codes="F S X"),
        5: spec("AN", 1, 80, "description"),
    },
    "SAC": {
        1: spec("ID", 1, 1, "allowance or charge", mandatory=True, codes="A C N", complete=False),
        2: spec("ID", 4, 4, "allowance/charge code"),
        5: spec("N2", 1, 15, "allowance/charge amount"),
        7: spec("R", 1, 6, "percent"),
        8: spec("R", 1, 9, "rate"),
        12: spec("ID", 2, 2, "method of handling"),
    },
    "TXI": {
        1: spec("ID", 2, 2, "tax type", mandatory=True),
        2: spec("R", 1, 18, "tax amount"),
        3: spec("R", 1, 10, "tax percent"),
    },
    "TDS": {
        1: spec("N2", 1, 15, "invoice total", mandatory=True),
        2: spec("N2", 1, 15, "amount subject to terms discount"),
        3: spec("N2", 1, 15, "discounted amount due"),
        4: spec("N2", 1, 15, "terms discount"),
    },
    "ISS": {
        1: spec("R", 1, 10, "units shipped"),
        2: spec("ID", 2, 2, "unit of measure", codes=UNITS, complete=False),
        3: spec("R", 1, 10, "weight"),
        4: spec("ID", 2, 2, "unit of measure", codes=UNITS, complete=False),
    },
    "CTT": {
        1: spec("N0", 1, 6, "number of lines", mandatory=True),
        2: spec("R", 1, 10, "hash total"),
    },
}  # fmt: skip

# IT1 product-id pairs run P0607 .. P2425.
_IT1_PAIRS = tuple(f"P{n:02d}{n + 1:02d}" for n in range(6, 25, 2))

RELATIONS: dict[str, tuple[Relation, ...]] = {
    tag: tuple(Relation.parse(code) for code in codes)
    for tag, codes in {
        "IT1": ("P020304", *_IT1_PAIRS),
        "SAC": ("R0203", "P0304", "P0607", "P0910", "C1110", "L130204", "C1413", "C1615"),
        "N1": ("R0203", "P0304"),
        "REF": ("R0203",),
        "DTM": ("R020305", "C0403", "P0506"),
        "TXI": ("R020306", "P0405", "C0803"),
        "ITD": ("L03040513", "L08040513", "L091011"),
        "CTT": ("P0304", "P0506"),
        "N4": ("C0605",),
        "FOB": ("C0302", "C0405", "C0706", "C0809"),
        "PER": ("P0304", "P0506", "P0708"),
        "ISS": ("P0102", "P0304"),
    }.items()
}
