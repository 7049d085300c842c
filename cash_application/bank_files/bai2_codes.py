"""BAI2 type codes: what each three-digit code in a 03 or 16 record means.

A type code says what an amount is: a balance (status, 001-099), a summary of
credits or debits (100, 400 and others), or one transaction (detail). The ranges
come from the BAI Cash Management Balance Reporting Specifications, version 2,
"Type Codes" and Appendix A:

    001-099  account status (balances; may be signed)
    100      total credits            101-399  credit summary and detail
    400      total debits             401-699  debit summary and detail
    700-799  loan codes (701-709 status, 720-728 credits, 760 debit)
    890      contains non-monetary information (no direction: refused in a 16 record)
    900-919  customised status codes
    920-959  customised credit codes  960-999  customised debit codes
             (each listed, described as bank-defined)

Banks also publish their own codes inside 100-699; those keep the direction of
their range even when this table has no description for them.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

from cash_application.bank_files.records import Direction

Level = Literal["status", "summary", "detail"]


class TypeCode(NamedTuple):
    """One entry of the BAI2 type code table (spec "Type Codes", Appendix A)."""

    code: str
    direction: Literal["credit", "debit"] | None  # None for balances and information
    level: Level
    description: str


class TypeCodeError(ValueError):
    """A type code that cannot be a transaction detail (no credit or debit direction)."""


# code, level, description. Direction follows from the code's range (see module
# docstring). Descriptions are the spec's names.
_SPEC_TABLE = """\
010 status  Opening Ledger
011 status  Average Opening Ledger MTD
012 status  Average Opening Ledger YTD
015 status  Closing Ledger
020 status  Average Closing Ledger MTD
021 status  Average Closing Ledger - Previous Month
022 status  Aggregate Balance Adjustments
024 status  Average Closing Ledger YTD - Previous Month
025 status  Average Closing Ledger YTD
030 status  Current Ledger
037 status  ACH Net Position
039 status  Opening Available + Total Same-Day ACH DTC Deposit
040 status  Opening Available
041 status  Average Opening Available MTD
042 status  Average Opening Available YTD
043 status  Average Available - Previous Month
044 status  Disbursing Opening Available Balance
045 status  Closing Available
050 status  Average Closing Available MTD
051 status  Average Closing Available - Last Month
054 status  Average Closing Available YTD - Last Month
055 status  Average Closing Available YTD
056 status  Loan Balance
057 status  Total Investment Position
059 status  Current Available (CRS Suppressed)
060 status  Current Available
061 status  Average Current Available MTD
062 status  Average Current Available YTD
063 status  Total Float
065 status  Target Balance
066 status  Adjusted Balance
067 status  Adjusted Balance MTD
068 status  Adjusted Balance YTD
070 status  0-Day Float
072 status  1-Day Float
073 status  Float Adjustment
074 status  2 or More Days Float
075 status  3 or More Days Float
076 status  Adjustment to Balances
077 status  Average Adjustment to Balances MTD
078 status  Average Adjustment to Balances YTD
079 status  4-Day Float
080 status  5-Day Float
081 status  6-Day Float
082 status  Average 1-Day Float MTD
083 status  Average 1-Day Float YTD
084 status  Average 2-Day Float MTD
085 status  Average 2-Day Float YTD
086 status  Transfer Calculation
100 summary Total Credits
101 summary Total Credit Amount MTD
105 summary Credits Not Detailed
106 summary Deposits Subject to Float
107 summary Total Adjustment Credits YTD
108 detail  Credit (Any Type)
109 summary Current Day Total Lockbox Deposits
110 summary Total Lockbox Deposits
115 detail  Lockbox Deposit
116 detail  Item in Lockbox Deposit
118 detail  Lockbox Adjustment Credit
120 summary EDI Transaction Credit
121 detail  EDI Transaction Credit
122 detail  EDIBANX Credit Received
123 detail  EDIBANX Credit Return
130 summary Total Concentration Credits
131 summary Total DTC Credits
135 detail  DTC Concentration Credit
136 detail  Item in DTC Deposit
140 summary Total ACH Credits
142 detail  ACH Credit Received
143 detail  Item in ACH Deposit
145 detail  ACH Concentration Credit
146 summary Total Bank Card Deposits
147 detail  Individual Bank Card Deposit
150 summary Total Preauthorized Payment Credits
155 detail  Preauthorized Draft Credit
156 detail  Item in PAC Deposit
160 summary Total ACH Disbursing Funding Credits
162 summary Corporate Trade Payment Settlement
163 summary Corporate Trade Payment Credits
164 detail  Corporate Trade Payment Credit
165 detail  Preauthorized ACH Credit
166 detail  ACH Settlement
167 summary ACH Settlement Credits
168 summary ACH Return Item or Adjustment Settlement
169 summary Miscellaneous ACH Credit
170 summary Total Other Check Deposits
171 detail  Individual Loan Deposit
172 detail  Deposit Correction
173 detail  Bank-Prepared Deposit
174 detail  Other Deposit
175 detail  Check Deposit Package
176 detail  Re-presented Check Deposit
178 summary List Post Credits
180 summary Total Loan Proceeds
182 summary Total Bank-Prepared Deposits
184 detail  Draft Deposit
185 summary Total Miscellaneous Deposits
186 summary Total Cash Letter Credits
187 detail  Cash Letter Credit
188 summary Total Cash Letter Adjustments
189 detail  Cash Letter Adjustment
190 summary Total Incoming Money Transfers
191 detail  Individual Incoming Internal Money Transfer
195 detail  Incoming Money Transfer
196 detail  Money Transfer Adjustment
198 detail  Compensation
200 summary Total Automatic Transfer Credits
201 detail  Individual Automatic Transfer Credit
202 detail  Bond Operations Credit
205 summary Total Book Transfer Credits
206 detail  Book Transfer Credit
207 summary Total International Money Transfer Credits
208 detail  Individual International Money Transfer Credit
210 summary Total International Credits
212 detail  Foreign Letter of Credit
213 detail  Letter of Credit
214 detail  Foreign Exchange of Credit
215 summary Total Letters of Credit
216 detail  Foreign Remittance Credit
218 detail  Foreign Collection Credit
221 detail  Foreign Check Purchase
222 detail  Foreign Checks Deposited
224 detail  Commission
226 detail  International Money Market Trading
227 detail  Standing Order
229 detail  Miscellaneous International Credit
230 summary Total Security Credits
231 summary Total Collection Credits
232 detail  Sale of Debt Security
233 detail  Securities Sold
234 detail  Sale of Equity Security
235 detail  Matured Reverse Repurchase Order
236 detail  Maturity of Debt Security
237 detail  Individual Collection Credit
238 detail  Collection of Dividends
239 summary Total Bankers' Acceptance Credits
240 detail  Coupon Collections - Banks
241 detail  Bankers' Acceptances
242 detail  Collection of Interest Income
243 detail  Matured Fed Funds Purchased
244 detail  Interest/Matured Principal Payment
245 summary Monthly Dividends
246 detail  Commercial Paper
247 detail  Capital Change
248 detail  Savings Bonds Sales Adjustment
249 detail  Miscellaneous Security Credit
250 summary Total Checks Posted and Returned
251 summary Total Debit Reversals
252 detail  Debit Reversal
254 detail  Posting Error Correction Credit
255 detail  Check Posted and Returned
256 summary Total ACH Return Items
257 detail  Individual ACH Return Item
258 detail  ACH Reversal Credit
260 summary Total Rejected Credits
261 detail  Individual Rejected Credit
263 detail  Overdraft
266 detail  Return Item
268 detail  Return Item Adjustment
270 summary Total ZBA Credits
271 summary Net Zero-Balance Amount
274 detail  Cumulative ZBA or Disbursement Credits
275 detail  ZBA Credit
276 detail  ZBA Float Adjustment
277 detail  ZBA Credit Transfer
278 detail  ZBA Credit Adjustment
280 summary Total Controlled Disbursing Credits
281 detail  Individual Controlled Disbursing Credit
285 summary Total DTC Disbursing Credits
286 detail  Individual DTC Disbursing Credit
294 summary Total ATM Credits
295 detail  ATM Credit
301 detail  Commercial Deposit
302 summary Correspondent Bank Deposit
303 summary Total Wire Transfers In - FF
304 summary Total Wire Transfers In - CHF
305 summary Total Fed Funds Sold
306 detail  Fed Funds Sold
307 summary Total Trust Credits
308 detail  Trust Credit
309 summary Total Value-Dated Funds
310 summary Total Commercial Deposits
315 summary Total International Credits - FF
316 summary Total International Credits - CHF
318 summary Total Foreign Check Purchased
319 summary Late Deposit
320 summary Total Securities Sold - FF
321 summary Total Securities Sold - CHF
324 summary Total Securities Matured - FF
325 summary Total Securities Matured - CHF
326 summary Total Securities Interest
327 summary Total Securities Matured
328 summary Total Securities Interest - FF
329 summary Total Securities Interest - CHF
330 summary Total Escrow Credits
331 detail  Individual Escrow Credit
332 summary Total Miscellaneous Securities Credits - FF
336 summary Total Miscellaneous Securities Credits - CHF
338 summary Total Securities Sold
340 summary Total Broker Deposits
341 summary Total Broker Deposits - FF
342 detail  Broker Deposit
343 summary Total Broker Deposits - CHF
344 detail  Individual Back Value Credit
345 detail  Item in Brokers Deposit
346 detail  Sweep Interest Income
347 detail  Sweep Principal Sell
348 detail  Futures Credit
349 detail  Principal Payments Credit
350 summary Investment Sold
351 detail  Individual Investment Sold
352 summary Total Cash Center Credits
353 detail  Cash Center Credit
354 detail  Interest Credit
355 summary Investment Interest
356 summary Total Credit Adjustment
357 detail  Credit Adjustment
358 detail  YTD Adjustment Credit
359 detail  Interest Adjustment Credit
360 summary Total Credits Less Wire Transfer and Returned Checks
361 summary Grand Total Credits Less Grand Total Debits
362 detail  Correspondent Collection
363 detail  Correspondent Collection Adjustment
364 detail  Loan Participation
366 detail  Currency and Coin Deposited
367 detail  Food Stamp Letter
368 detail  Food Stamp Adjustment
369 detail  Clearing Settlement Credit
370 summary Total Back Value Credits
372 detail  Back Value Adjustment
373 detail  Customer Payroll
374 detail  FRB Statement Recap
376 detail  Savings Bond Letter or Adjustment
377 detail  Treasury Tax and Loan Credit
378 detail  Transfer of Treasury Credit
379 detail  FRB Government Checks Cash Letter Credit
381 detail  FRB Government Check Adjustment
382 detail  FRB Postal Money Order Credit
383 detail  FRB Postal Money Order Adjustment
384 detail  FRB Cash Letter Auto Charge Credit
385 summary Total Universal Credits
386 detail  FRB Cash Letter Auto Charge Adjustment
387 detail  FRB Fine-Sort Cash Letter Credit
388 detail  FRB Fine-Sort Adjustment
389 summary Total Freight Payment Credits
390 summary Total Miscellaneous Credits
391 detail  Universal Credit
392 detail  Freight Payment Credit
393 detail  Itemized Credit Over $10,000
394 detail  Cumulative Credits
395 detail  Check Reversal
397 detail  Float Adjustment
398 detail  Miscellaneous Fee Refund
399 detail  Miscellaneous Credit
400 summary Total Debits
401 summary Total Debit Amount MTD
403 summary Today's Total Debits
405 summary Total Debit Less Wire Transfers and Charge-Backs
406 summary Debits Not Detailed
408 detail  Float Adjustment
409 detail  Debit (Any Type)
410 summary Total YTD Adjustment
412 summary Total Debits (Excluding Returned Items)
415 detail  Lockbox Debit
416 summary Total Lockbox Debits
420 summary EDI Transaction Debits
421 detail  EDI Transaction Debit
422 detail  EDIBANX Settlement Debit
423 detail  EDIBANX Return Item Debit
430 summary Total Payable-Through Drafts
435 detail  Payable-Through Draft
445 detail  ACH Concentration Debit
446 summary Total ACH Disbursement Funding Debits
447 detail  ACH Disbursement Funding Debit
450 summary Total ACH Debits
451 detail  ACH Debit Received
452 detail  Item in ACH Disbursement or Debit
455 detail  Preauthorized ACH Debit
462 detail  Account Holder Initiated ACH Debit
463 summary Corporate Trade Payment Debits
464 detail  Corporate Trade Payment Debit
465 summary Corporate Trade Payment Settlement
466 detail  ACH Settlement
467 summary ACH Settlement Debits
468 detail  ACH Return Item or Adjustment Settlement
469 detail  Miscellaneous ACH Debit
470 summary Total Check Paid
471 summary Total Check Paid - Cumulative MTD
472 detail  Cumulative Checks Paid
474 detail  Certified Check Debit
475 detail  Check Paid
476 detail  Federal Reserve Bank Letter Debit
477 detail  Bank Originated Debit
478 summary List Post Debits
479 detail  List Post Debit
480 summary Total Loan Payments
481 detail  Individual Loan Payment
482 summary Total Bank-Originated Debits
484 detail  Draft
485 detail  DTC Debit
486 summary Total Cash Letter Debits
487 detail  Cash Letter Debit
489 detail  Cash Letter Adjustment
490 summary Total Outgoing Money Transfers
491 detail  Individual Outgoing Internal Money Transfer
493 detail  Customer Terminal Initiated Money Transfer
495 detail  Outgoing Money Transfer
496 detail  Money Transfer Adjustment
498 detail  Compensation
500 summary Total Automatic Transfer Debits
501 detail  Individual Automatic Transfer Debit
502 detail  Bond Operations Debit
505 summary Total Book Transfer Debits
506 detail  Book Transfer Debit
507 summary Total International Money Transfer Debits
508 detail  Individual International Money Transfer Debit
510 summary Total International Debits
512 detail  Letter of Credit Debit
513 detail  Letter of Credit
514 detail  Foreign Exchange Debit
515 summary Total Letters of Credit
516 detail  Foreign Remittance Debit
518 detail  Foreign Collection Debit
522 detail  Foreign Checks Paid
524 detail  Commission
526 detail  International Money Market Trading
527 detail  Standing Order
529 detail  Miscellaneous International Debit
530 summary Total Security Debits
531 detail  Securities Purchased
532 summary Total Amount of Securities Purchased
533 detail  Security Collection Debit
534 summary Total Miscellaneous Securities Debits - FF
535 detail  Purchase of Equity Securities
536 summary Total Miscellaneous Securities Debits - CHF
537 summary Total Collection Debit
538 detail  Matured Repurchase Order
539 summary Total Bankers' Acceptances Debit
540 detail  Coupon Collection Debit
541 detail  Bankers' Acceptances
542 detail  Purchase of Debt Securities
543 detail  Domestic Collection
544 detail  Interest/Matured Principal Payment
546 detail  Commercial Paper
547 detail  Capital Change
548 detail  Savings Bonds Sales Adjustment
549 detail  Miscellaneous Security Debit
550 summary Total Deposited Items Returned
551 summary Total Credit Reversals
552 detail  Credit Reversal
554 detail  Posting Error Correction Debit
555 detail  Deposited Item Returned
556 summary Total ACH Return Items
557 detail  Individual ACH Return Item
558 detail  ACH Reversal Debit
560 summary Total Rejected Debits
561 detail  Individual Rejected Debit
563 detail  Overdraft
564 detail  Overdraft Fee
566 detail  Return Item
567 detail  Return Item Fee
568 detail  Return Item Adjustment
570 summary Total ZBA Debits
574 detail  Cumulative ZBA Debits
575 detail  ZBA Debit
577 detail  ZBA Debit Transfer
578 detail  ZBA Debit Adjustment
580 summary Total Controlled Disbursing Debits
581 detail  Individual Controlled Disbursing Debit
583 summary Total Disbursing Checks Paid - Early Amount
584 summary Total Disbursing Checks Paid - Later Amount
585 summary Disbursing Funding Requirement
586 summary FRB Presentment Estimate (Fed Estimate)
587 summary Late Debits (After Notification)
588 summary Total Disbursing Checks Paid - Last Amount
590 summary Total DTC Debits
594 summary Total ATM Debits
595 detail  ATM Debit
596 summary Total ARP Debits
597 detail  ARP Debit
601 summary Estimated Total Disbursement
602 summary Adjusted Total Disbursement
610 summary Total Funds Required
611 summary Total Wire Transfers Out - CHF
612 summary Total Wire Transfers Out - FF
613 summary Total International Debit - CHF
614 summary Total International Debit - FF
615 summary Total Federal Reserve Bank - Commercial Bank Debit
616 detail  Federal Reserve Bank - Commercial Bank Debit
617 summary Total Securities Purchased - CHF
618 summary Total Securities Purchased - FF
621 summary Total Broker Debits - CHF
622 detail  Broker Debit
623 summary Total Broker Debits - FF
625 summary Total Broker Debits
626 summary Total Fed Funds Purchased
627 detail  Fed Funds Purchased
628 summary Total Cash Center Debits
629 detail  Cash Center Debit
630 summary Total Debit Adjustments
631 detail  Debit Adjustment
632 summary Total Trust Debits
633 detail  Trust Debit
634 detail  YTD Adjustment Debit
640 summary Total Escrow Debits
641 detail  Individual Escrow Debit
644 detail  Individual Back Value Debit
646 summary Transfer Calculation Debit
650 summary Investments Purchased
651 detail  Individual Investment Purchased
654 detail  Interest Debit
655 summary Total Investment Interest Debits
656 detail  Sweep Principal Buy
657 detail  Futures Debit
658 detail  Principal Payments Debit
659 detail  Interest Adjustment Debit
661 detail  Account Analysis Fee
662 detail  Correspondent Collection Debit
663 detail  Correspondent Collection Adjustment
664 detail  Loan Participation
665 summary Intercept Debits
666 detail  Currency and Coin Shipped
667 detail  Food Stamp Letter
668 detail  Food Stamp Adjustment
669 detail  Clearing Settlement Debit
670 summary Total Back Value Debits
672 detail  Back Value Adjustment
673 detail  Customer Payroll
674 detail  FRB Statement Recap
676 detail  Savings Bond Letter or Adjustment
677 detail  Treasury Tax and Loan Debit
678 detail  Transfer of Treasury Debit
679 detail  FRB Government Checks Cash Letter Debit
681 detail  FRB Government Check Adjustment
682 detail  FRB Postal Money Order Debit
683 detail  FRB Postal Money Order Adjustment
684 detail  FRB Cash Letter Auto Charge Debit
685 summary Total Universal Debits
686 detail  FRB Cash Letter Auto Charge Adjustment
687 detail  FRB Fine-Sort Cash Letter Debit
688 detail  FRB Fine-Sort Adjustment
689 summary FRB Freight Payment Debits
690 summary Total Miscellaneous Debits
691 detail  Universal Debit
692 detail  Freight Payment Debit
693 detail  Itemized Debit Over $10,000
694 detail  Deposit Reversal
695 detail  Deposit Correction Debit
696 detail  Regular Collection Debit
697 detail  Cumulative Debits
698 detail  Miscellaneous Fees
699 detail  Miscellaneous Debit
701 status  Principal Loan Balance
703 status  Available Commitment Amount
705 status  Payment Amount Due
707 status  Principal Amount Past Due
709 status  Interest Amount Past Due
720 summary Total Loan Payment
721 detail  Amount Applied to Interest
722 detail  Amount Applied to Principal
723 detail  Amount Applied to Escrow
724 detail  Amount Applied to Late Charges
725 detail  Amount Applied to Buydown
726 detail  Amount Applied to Misc. Fees
727 detail  Amount Applied to Deferred Interest Detail
728 detail  Amount Applied to Service Charge
760 summary Loan Disbursement
890 detail  Contains Non-monetary Information
"""

# The spec reserves 900-999 for codes each bank defines with its customers: listed by
# range, so every code a bank may send has a description, and its direction is the
# range's (a bank's own name for a code is in its documentation, not in the file).
_CUSTOM_RANGES = (
    (900, 919, "status", "Customized Status Code (bank-defined)"),
    (920, 959, "detail", "Customized Credit Code (bank-defined)"),
    (960, 999, "detail", "Customized Debit Code (bank-defined)"),
)


def _range_direction(code: int) -> Literal["credit", "debit"] | None:
    """Direction the spec gives a code by its range alone (None: no direction)."""
    if 100 <= code <= 399 or 720 <= code <= 728 or 920 <= code <= 959:
        return "credit"
    if 400 <= code <= 699 or code == 760 or 960 <= code <= 999:
        return "debit"
    return None


def _load_table() -> dict[str, TypeCode]:
    table: dict[str, TypeCode] = {}
    for row in _SPEC_TABLE.splitlines():
        code, level, description = row.split(maxsplit=2)
        assert level in ("status", "summary", "detail"), row
        table[code] = TypeCode(code, _range_direction(int(code)), level, description)  # type: ignore[arg-type]
    for first, last, level, description in _CUSTOM_RANGES:
        for number in range(first, last + 1):
            code = f"{number:03d}"
            table[code] = TypeCode(code, _range_direction(number), level, description)  # type: ignore[arg-type]
    return table


TYPE_CODES: dict[str, TypeCode] = _load_table()


def describe(code: str) -> str | None:
    """The spec's name for a type code ("195" -> "Incoming Money Transfer"), None if unlisted."""
    entry = TYPE_CODES.get(code)
    return entry.description if entry else None


def detail_direction(code: str) -> Direction:
    """Credit or debit for the type code of a 16 record; `TypeCodeError` says why not.

    100-399 are credits and 400-699 debits whether or not the table lists the
    code (banks add their own inside those ranges). Outside them the spec's
    conventions decide: loan codes 720-728 are credits and 760 a debit,
    customised codes 920-959 credits and 960-999 debits. Everything else has no
    direction a transaction could take: balances (001-099, 701-709, 900-919),
    890 (non-monetary information) and codes the spec leaves unused (700-799 and
    800-899 otherwise). Guessing would post money the wrong way, so those raise.
    """
    if len(code) != 3 or not code.isascii() or not code.isdigit():
        raise TypeCodeError(f"must be three digits, found {code!r}")
    number = int(code)
    direction = _range_direction(number)
    if direction == "credit":
        return Direction.CREDIT
    if direction == "debit":
        return Direction.DEBIT
    if 1 <= number < 100 or 701 <= number <= 709 or 900 <= number <= 919:
        raise TypeCodeError(
            f"{code} is a balance (status) code, not a transaction, found in a detail"
        )
    if number == 890:
        raise TypeCodeError("890 (non-monetary information) has no credit or debit direction")
    raise TypeCodeError(f"{code} is not a credit or debit code of the BAI2 specification")
