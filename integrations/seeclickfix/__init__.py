"""SeeClickFix API v2: the 311 CRM ("local system")."""

from .client import IssueCreated, SeeClickFixClient
from .issues import (
    CrmComment,
    CrmIssue,
    CrmQuestion,
    IssueFormatError,
    comment_key,
    is_placeholder,
    parse_issue,
)

__all__ = [
    "CrmComment",
    "CrmIssue",
    "CrmQuestion",
    "IssueCreated",
    "IssueFormatError",
    "SeeClickFixClient",
    "comment_key",
    "is_placeholder",
    "parse_issue",
]
