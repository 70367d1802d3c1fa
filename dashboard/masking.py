"""Personal data masking for public screens (placeholder; replaced by the full implementation)."""

import re
import unicodedata


def mask_text(text: str) -> str:
    text = unicodedata.normalize("NFKC", text or "")
    return re.sub(r"\d{7,}", lambda m: m.group()[:3] + "*" * (len(m.group()) - 7) + m.group()[-4:], text)
