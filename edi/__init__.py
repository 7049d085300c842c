"""EDI: X12 810 / EDIFACT INVOIC build, pre-delivery validation, acknowledgments.

Pure (DESIGN.md): imports only `mappings`. Entry points:

    edi.validate.validate(data, profile)        every finding of one file, X12 or EDIFACT
    edi.history.history_findings(data, hist)    reused control numbers, invoices sent before
    edi.build_x12.render_810(doc, env)          a canonical invoice as an 810 interchange
    edi.build_edifact.render_invoic(doc, env)   ... as an EDIFACT INVOIC (D96A / D01B EANCOM)
    edi.parse_x12_810.parse_810(data)           810 sets back to canonical invoices
    edi.parse_edifact_invoic.parse_invoic(data) INVOIC messages back to canonical invoices
    edi.acks.read_acknowledgments(data)         997 / 999 / TA1 / CONTRL / 824 / APERAK records
    edi.ack_join.join_acknowledgments(...)      each sent invoice's EDI status, in clerk's words
    edi.ack_join.overdue(sent, acked, ...)      sent invoices whose acknowledgment is late

Layers, bottom up: `segments` (tokenizing both syntaxes), `x12` / `edifact`
(readers: delimiters and byte-level findings), `x12_envelope` / `edifact_envelope`
(envelopes and counts), `structure` (segment tables: order, loops, max use),
`elements` (types, lengths, codes, relational conditions), `x12_810` (the 810
dictionary), `x12_invoice` / `edifact_invoic` (elements and business arithmetic),
`findings` (the finding record and its acknowledgment codes), `profile` (the
trading-partner seam), `amounts` (the totals both builders write), `ack_codes`
(acknowledgment codes in words).
"""
