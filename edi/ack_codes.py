"""Acknowledgment codes in words a billing clerk understands.

The code lists a trading partner's acknowledgment carries (edi-rules.md section 5):
997/999 AK304/IK304 (segment), AK403/IK403 (element), AK502/IK502 (document),
AK905 (group), TA1 TA105 (interchange), and the EDIFACT CONTRL syntax error code
0085 (ISO 9735 v4 list, also used by CONTRL D:3). The reverse direction, our own
findings to these codes, is `edi.findings.ACK_CODES`; both use the same numbers.
"""

from __future__ import annotations

SEGMENT_CODES = {
    "1": "is not a segment the partner recognises",
    "2": "is not expected where it is",
    "3": "is required but missing",
    "4": "repeats its loop more often than allowed",
    "5": "occurs more often than allowed",
    "6": "does not belong in this document type",
    "7": "is out of order",
    "8": "has errors in its fields",
    "I4": "is present although the partner does not use it",
    "I6": "is required by the partner's guide but missing",
    "I7": "repeats its loop fewer times than required",
    "I8": "occurs fewer times than required",
    "I9": "is present although the partner's guide marks it not used",
}
ELEMENT_CODES = {
    "1": "is required but missing",
    "2": "is required here (because of another field) but missing",
    "3": "has too many fields",
    "4": "is too short",
    "5": "is too long",
    "6": "has a character that is not allowed",
    "7": "has a code value the partner does not accept",
    "8": "is not a valid date",
    "9": "is not a valid time",
    "10": "must not be sent together with another field",
    "12": "repeats too often",
    "13": "has too many parts",
    "I6": "has a code value the partner's guide does not use",
    "I9": "is required by the partner's guide but missing",
    "I10": "is present although the partner does not use it",
    "I11": "repeats fewer times than required",
    "I12": "does not match the required pattern",
    "I13": "is present although the partner's guide marks it not used",
}
DOCUMENT_CODES = {
    "1": "the partner does not accept this document type",
    "2": "the document's trailer (SE) is missing",
    "3": "the document's trailer control number does not match its header",
    "4": "the document's segment count (SE01) is wrong",
    "5": "one or more segments are in error",
    "6": "the document type id is missing or invalid",
    "7": "the document control number is missing or invalid",
    "18": "the document is not inside a group",
    "19": "the implementation convention reference is invalid",
    "23": "the document control number was used twice in the group",
    "I5": "the implementation convention is not supported",
    "I6": "the implementation convention is not supported",
}
GROUP_CODES = {
    "1": "the partner does not accept this group type",
    "2": "the partner does not accept this version",
    "3": "the group trailer (GE) is missing",
    "4": "the group trailer control number does not match its header",
    "5": "the group's document count (GE01) is wrong",
    "6": "the group control number is invalid",
    "19": "the group control number was used twice in the interchange",
}
INTERCHANGE_CODES = {
    "000": "no error",
    "001": "the interchange trailer control number does not match its header",
    "002": "this standard is not supported",
    "003": "this version is not supported",
    "004": "the segment terminator is invalid",
    "005": "the sender id qualifier is invalid",
    "006": "the sender id is invalid",
    "007": "the receiver id qualifier is invalid",
    "008": "the receiver id is invalid",
    "009": "the receiver is unknown",
    "010": "the authorization qualifier is invalid",
    "011": "the authorization value is invalid",
    "012": "the security qualifier is invalid",
    "013": "the security value is invalid",
    "014": "the interchange date is invalid",
    "015": "the interchange time is invalid",
    "016": "the standards identifier is invalid",
    "017": "the version id is invalid",
    "018": "the interchange control number is invalid",
    "019": "the acknowledgment request is invalid",
    "020": "the test indicator is invalid",
    "021": "the interchange trailer's group count is wrong",
    "022": "the interchange structure is invalid",
    "023": "the file ended before the interchange trailer",
    "024": "the interchange content is invalid",
    "025": "the interchange control number was already used",
    "026": "the element separator is invalid",
    "027": "the component separator is invalid",
}
# ISO 9735 code list 0085 (syntax error, coded).
SYNTAX_CODES = {
    "2": "the syntax version is not supported",
    "3": "the message version is not supported",
    "4": "a service segment is missing or invalid",
    "5": "a trailer count or reference is wrong",
    "6": "a segment is missing or invalid",
    "7": "the recipient is not the actual recipient",
    "8": "a segment has too many fields",
    "9": "a required field is missing",
    "10": "a field has the wrong format",
    "12": "a value is invalid",
    "13": "a required part is missing",
    "14": "a value is not supported in this position",
    "15": "a segment is not supported in this position",
    "16": "a field has too many parts",
    "17": "there is no agreement with the partner for this",
    "18": "unspecified error",
    "20": "the character set is not supported",
    "21": "a character is not allowed",
    "22": "a service character is misused",
    "23": "the sender is unknown",
    "24": "the interchange is too old",
    "25": "the test indicator is not supported",
    "26": "it was already received (duplicate)",
    "28": "a trailer reference does not match its header",
    "29": "a count does not match",
    "35": "a segment repeats too often",
    "36": "a segment group repeats too often",
    "37": "a field has characters of the wrong type",
    "39": "a field is too long",
    "40": "a field is too short",
}


def words(table: dict[str, str], code: str) -> str:
    """The words for `code` in `table`, or the bare code when the list does not name it."""
    return table.get(code.strip(), f"error code {code.strip()}")
