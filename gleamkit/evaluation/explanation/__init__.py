"""GLEAM-X explanation evaluation: verdict parsing, text metrics, sentence similarity."""
from .verdict import MATCH, NO_MATCH, UNPARSEABLE, parse_structured_verdict, parse_verdict

__all__ = ['parse_verdict', 'parse_structured_verdict', 'MATCH', 'NO_MATCH', 'UNPARSEABLE']
