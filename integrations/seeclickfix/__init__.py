"""SeeClickFix API v2: the 311 CRM ("local system")."""

from .client import SeeClickFixClient
from .issues import CrmComment, CrmIssue, CrmQuestion, IssueFormatError, parse_issue

__all__ = [
    "CrmComment",
    "CrmIssue",
    "CrmQuestion",
    "IssueFormatError",
    "SeeClickFixClient",
    "parse_issue",
]
