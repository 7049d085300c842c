"""EDI trading-partner profiles as data: one `<partner>.toml` per partner (see generic.toml).

A package only so the profiles ship with the distribution as package data.
"""
