"""What people see: the victim's case page (HTML) and the money-trail picture (PNG).

Pure functions over the Case status JSON and Trail JSON (docs/web.md); no Faust, no
network, so the web views, the CLI and the tests all render the same thing.
"""
