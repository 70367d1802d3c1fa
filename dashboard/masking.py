"""Personal data masking for citizen-written text shown on public screens.

`mask_text` is applied to every title, text and official reply before it enters the public snapshot;
`contains_personal_data` says whether it would change anything. Both accept any string (and None)
and never raise.

How matching works
------------------
Detection runs on a folded copy of the text that has exactly one character per original character:
full-width forms become ASCII (``１３８－１２３４`` → ``138-1234``), every Unicode decimal digit becomes
its ASCII digit, no-break and ideographic spaces become a space, the various dashes and minus signs
become ``-`` and the various middle dots become ``·``. Positions therefore map one to one, so text
outside a masked span is returned exactly as written; a masked span is rebuilt from the folded copy
and so always comes out in ASCII (``１３８１２３４５６７８`` → ``138****5678``). Separators inside a
masked number are kept as written (``138 1234 5678`` → ``138 **** 5678``).

Every rule proposes spans; when spans overlap, the stronger rule wins, in this order: e-mail, plate,
labelled name, kept case number, kept date or time, labelled ID, labelled SSN, ID, mobile, landline,
North American number, SSN, other labelled number. A number is only a candidate when no digit
touches it on either side and it is not part of a decimal, so nothing is ever cut out of a longer
number or a coordinate (``40.714373430417425`` stays). English labels are matched in any case.

Masked
------
1. E-mail addresses: first character of the local part, ``***``, the domain kept
   (``zhang.san@example.com`` → ``z***@example.com``).
2. Chinese licence plates: a province abbreviation, a letter, an optional separator, then 5 or 6
   letters/digits (at least one digit, or capitals only), or 4 and a 挂/学/警/港/澳 suffix, or one
   and a middle dot before the other 4 or 5: the province and the letter are kept (``豫H12345`` →
   ``豫H*****``, ``豫H·D12345`` → ``豫H·******``, ``豫HG·4B96`` → ``豫H*·****``, ``豫HTBCCC`` →
   ``豫H*****``). US plates have no shape
   that tells them from part numbers or words, so they are not detected.
3. Names, only in the labelled forms ``姓名：`` / ``联系人：`` followed by 2-4 Chinese
   characters (the first is kept: ``张三`` → ``张*``), and ``Name:`` (also ``Full name:``, ``Contact
   name:``, ``Caller name:``, ``Customer name:``) followed by one to three capitalised words (first
   letter of each kept: ``John Smith`` → ``J*** S****``). ``Street name:`` and similar two-word labels
   are not names. Names written in running text are not detected.
4. Labelled ID numbers: 身份证/证件/公民身份 (号码/号/编号) followed by 15-18 digits (the last may be
   X): first 6 and last 4 kept (last 3 for 15 or 16 digits), whatever the date part looks like.
5. Labelled SSNs: ``SSN`` / ``Social Security (number)`` followed by 9 digits, grouped or not: last 4
   kept.
6. Chinese resident ID numbers without a label: 18 characters (region 1-8xxxxx, a birth date
   18/19/20yymmdd, 3 digits, a digit or X) or the legacy 15 digits (region, yymmdd, 3 digits);
   spaces or dashes between the 6-8-4 groups allowed, and single spaces or dashes between any other
   characters of the 18-character form too (``4108251990-0101-1234``). First 6 kept, then the last 4
   (18-character form) or 3 (15-digit form): ``41080219900101123X`` → ``410802********123X``.
7. Chinese mobile numbers: 1[3-9] and 9 more digits, optionally split 3-4-4 by spaces, dashes,
   dots or slashes or written ``(138)12345678``, and optionally after +86 /
   0086 / 86 / (+86): first 3 and last 4 kept (``138****5678``, ``+86 138****5678``). A single
   separator between any two digits is also read as a mobile (``1 3 8 1 2 3 4 5 6 7 8``). The soft
   hyphen (U+00AD), which browsers do not draw, counts as a dash.
8. Chinese landlines: an area code 0xx(x) followed by a separator or in parentheses, then a 7-8 digit
   local number (``0391-1234567``, ``(0391)12345678``, ``010 1234 5678``), the same after +86 / 0086
   (leading 0 optional), or an unseparated 10-12 digit run starting with 0 (area code length from the
   national plan: 3 digits for 01x/02x, else 4). Area code (and country code) kept, last 2 kept:
   ``0391-*****67``. Five-digit service lines such as ``0391-12345`` are not matched.
9. North American numbers: an area code [2-9]xx in parentheses or followed by a space, dot or dash,
   a 3-digit exchange and a 4-digit line, optionally after +1 / 1: country and area code kept, last 2
   kept: ``(212) 555-0134`` → ``(212) ***-**34``, ``+1 212 555 0134`` → ``+1 212 *** **34``.
10. SSNs written 3-2-4 with dashes or spaces: ``123-45-6789`` → ``***-**-6789``, ``123 45 6789`` →
    ``*** ** 6789``. A bare run of ten digits
    shaped like a North American number (area code and exchange starting 2-9, ``2125551234``) is
    masked like rule 9 (``212*****34``).
11. Any other number right after a phone label (电话, 手机, 座机, 固话, 号码, 联系方式, 微信, QQ, 传真,
    tel, telephone, phone, mobile, cell, fax, call, contact, WhatsApp, WeChat; optional 号码/号/no./
    number/#, then an optional ``:`` / ``#`` / 是 / 为): when it has 7-15 digits, all but the last 2
    are masked (``电话：5248049`` → ``电话：*****49``). An area code followed by a 3-5 digit service
    line (``0731-12345``) is kept. Official numbers given after such a label in a reply are masked
    too, like official landlines under rule 8: that is the price of masking citizens' numbers
    written the same way.

12. Names in running text, after a word that introduces a person: 我叫/名叫/本人/户主/业主 and the
    roles 来电人/反映人/投诉人/申请人/求助人/当事人/联系人/诉求人/来信人/留言人/举报人 (also without a colon) followed by a common
    surname and one or two more characters, up to punctuation, the end or a verb such as 反映/投诉/
    称/表示/来电; and 居民/村民/市民/网友/家长/群众/租户/患者 followed by such a name and one of those
    verbs (or 家/的), punctuation or the end. The surname is kept: ``村民李四反映`` → ``村民李*反映``. A surname with a courtesy
    title (``张先生``, ``王女士``, ``李师傅``) is not a name, and neither is anything ending like a
    place (``王庄村``). In English: ``my name is`` followed by one to three capitalised words, and
    ``Mr``/``Mrs``/``Ms``/``Miss`` (with or without the dot) before a capitalised surname
    (``Mr. Smith`` → ``Mr. S****``). ``Dr`` is left alone: it is also a street (``Elm Dr``).

Numbers spelled in Chinese numerals count as digits when seven or more stand together
(``一三八一二三四五六七八`` is a mobile number; 〇/零/○ are 0 and 幺 is 1); a masked span comes out
in ASCII like any other.

Tiers
-----
``mask_text(text, tier)``: the ``public`` tier (wall screens, the manager API and anything without a
sign-in) and the ``newsroom`` tier mask everything above. The ``manager`` tier keeps the contact
details a centre calls back on (phone numbers, e-mail addresses, names and plates) and still masks
ID-card and social security numbers, which no screen needs in full.

Kept
----
- Case and work-order numbers after a label: 工单/案件/留言/诉求/受理/流水/订单/回执 followed by
  编号/编码/单号/号码/号, 工单 alone, 投诉编号/投诉单号/投诉号, 编号 (not 身份证编号/证件编号), 单号,
  ``case``, ``ticket``, ``SR``, ``service request``, ``complaint``, ``unique key``, ``ref``/
  ``reference``, and ``request``/``order``/``confirmation`` when followed by ``#``, ``no.`` or
  ``number``. The token after the label is kept whole (``工单号 2024052700123``, ``case #61276295``),
  except when it is, in full, a Chinese mobile number or an 18-digit ID with a valid check digit:
  those are masked as such, because a wrongly masked case number costs less than a citizen's own
  number on a wall.
- Dates and times: ``2024-05-27``, ``2024/5/27``, ``2024.05.27``, ``2024年5月27日``, ``5月27日``,
  ``05/27/2024``, ``27.05.2024``, ``2019/4/25 9:32:09``, ``17:31``; they shield a following phone label
  rule from reading a date as a number.
- Everything that no rule above matches, notably money (``5000元``, ``$1,200.50``), years,
  percentages, house numbers (``123 Main St``, ``人民路123号``, ``123-45 67th Ave``), five-digit
  hotlines (12345, 12315) and bare 7-10 digit numbers without a phone label (NYC's 8-digit keys).

Not detected in this version
----------------------------
Bank card numbers, US licence plates, postal addresses, names without one of the words above before
them (``张三反映`` at the start of a text), and circled digits.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from collections.abc import Callable

__all__ = ["MANAGER", "NEWSROOM", "PUBLIC", "TIERS", "contains_personal_data", "mask_text"]

PUBLIC, NEWSROOM, MANAGER = "public", "newsroom", "manager"
# What each tier masks, by the kind of each rule ("keep" rules only shield spans from weaker rules).
_MASKED_KINDS = {
    PUBLIC: frozenset({"email", "plate", "name", "id", "ssn", "phone"}),
    NEWSROOM: frozenset({"email", "plate", "name", "id", "ssn", "phone"}),
    MANAGER: frozenset({"id", "ssn"}),
}
TIERS = tuple(_MASKED_KINDS)

# --- folding: a same-length copy of the text for matching -------------------------------------

_FOLD: dict[int, str] = {cp: chr(cp - 0xFEE0) for cp in range(0xFF01, 0xFF5F)}
_FOLD.update({cp: " " for cp in (0x00A0, 0x1680, *range(0x2000, 0x200B), 0x202F, 0x205F, 0x3000)})
_FOLD.update({cp: "-" for cp in (0x00AD, *range(0x2010, 0x2016), 0x2212, 0xFE58, 0xFE63)})
_FOLD.update({cp: "·" for cp in (0x2022, 0x2027, 0x2219, 0x22C5, 0x30FB, 0xFF65)})
_FOLD.update({0xFFE5: "¥", 0xFFE1: "£"})
_OTHER_DIGIT = re.compile(r"[^\D0-9]")  # a Unicode decimal digit (Nd) that is not ASCII


def _ascii_digit(m: re.Match[str]) -> str:
    value = unicodedata.decimal(m.group(), None)
    return m.group() if value is None else str(value)


# Seven or more Chinese numerals together are a number spelled out (a phone number read aloud and
# typed as heard); fewer are words (一二三, 三五成群) and stay.
_CN_NUMERALS = {"〇": "0", "零": "0", "○": "0", "一": "1", "幺": "1", "二": "2", "三": "3", "四": "4",
                "五": "5", "六": "6", "七": "7", "八": "8", "九": "9"}
_CN_RUN = re.compile("[" + "".join(_CN_NUMERALS) + "]{7,}")


def _cn_digits(m: re.Match[str]) -> str:
    return "".join(_CN_NUMERALS[c] for c in m.group())


def _fold(text: str) -> str:
    if text.isascii():
        return text
    folded = text.translate(_FOLD)
    if _OTHER_DIGIT.search(folded):
        folded = _OTHER_DIGIT.sub(_ascii_digit, folded)
    if _CN_RUN.search(folded):
        folded = _CN_RUN.sub(_cn_digits, folded)
    return folded


# --- building masked spans ----------------------------------------------------------------------

_DIGITS = "0123456789"
_ID_CHARS = "0123456789Xx"


def _star(s: str, head: int, tail: int, chars: str = _DIGITS) -> str:
    """Replace every counted character except the first `head` and the last `tail` with '*'."""
    total = sum(c in chars for c in s)
    out, seen = [], 0
    for c in s:
        if c in chars:
            out.append(c if seen < head or seen >= total - tail else "*")
            seen += 1
        else:
            out.append(c)
    return "".join(out)


def _digits_through(m: re.Match[str], *groups: str) -> int:
    """How many digits the match has up to the end of the first of `groups` that took part."""
    for g in groups:
        if m.start(g) >= 0:
            return sum(c in _DIGITS for c in m.string[m.start() : m.end(g)])
    return 0


def _mask_email(m: re.Match[str]) -> str:
    return m.group("local")[0] + "***@" + m.group("domain")


def _mask_plate(m: re.Match[str]) -> str:
    return m.group("keep") + re.sub(r"[^·. -]", "*", m.group("rest"))


def _mask_name(m: re.Match[str]) -> str:
    words = m.group("name").split(" ")
    return " ".join(w[0] + "*" * (len(w) - 1) for w in words)


_MOBILE_SHAPE = re.compile(r"1[3-9][0-9][ -]?[0-9]{4}[ -]?[0-9]{4}")
_ID18_SHAPE = re.compile(
    r"[1-8][0-9]{5}(?:18|19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])[0-9]{3}[0-9Xx]"
)
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def _valid_id18(s: str) -> bool:
    if not _ID18_SHAPE.fullmatch(s):
        return False
    total = sum(int(d) * w for d, w in zip(s, _ID_WEIGHTS))
    return "10X98765432"[total % 11] == s[17].upper()


def _keep(m: re.Match[str]) -> str:
    return m.group()


def _keep_case_number(m: re.Match[str]) -> str:
    token = m.group("tok")
    if _MOBILE_SHAPE.fullmatch(token):
        return _star(token, 3, 4)
    if _valid_id18(token):
        return _star(token, 6, 4, _ID_CHARS)
    return token


def _mask_labelled_id(m: re.Match[str]) -> str:
    num = m.group("num")
    return _star(num, 6, 4 if len(num) >= 17 else 3, _ID_CHARS)


def _mask_id(m: re.Match[str]) -> str:
    num = m.group()
    return _star(num, 6, 4 if m.group("id18") else 3, _ID_CHARS)


def _mask_mobile(m: re.Match[str]) -> str:
    return _star(m.group(), _digits_through(m, "first3", "first3b"), 4)


_SEPARATORS = re.compile("[ ./-]")


def _mask_split_id(m: re.Match[str]) -> str | None:
    """An 18-character ID with separators in unusual places (``4108251990-0101-1234``)."""
    bare = _SEPARATORS.sub("", m.group())
    return _star(m.group(), 6, 4, _ID_CHARS) if _ID18_SHAPE.fullmatch(bare) else None


def _mask_split_mobile(m: re.Match[str]) -> str | None:
    """A mobile number with a separator between any digits (``1 3 8 1 2 3 4 5 6 7 8``)."""
    bare = _SEPARATORS.sub("", m.group())
    return _star(m.group(), 3, 4) if re.fullmatch("1[3-9][0-9]{9}", bare) else None


def _mask_landline(m: re.Match[str]) -> str:
    return _star(m.group(), _digits_through(m, "area", "area2", "area3", "area4"), 2)


def _mask_nanp(m: re.Match[str]) -> str:
    return _star(m.group(), _digits_through(m, "area", "area2"), 2)


def _mask_last4(m: re.Match[str]) -> str:
    return _star(m.group("num"), 0, 4)


_SERVICE_LINE = re.compile(r"0[1-9][0-9]{1,2}[ -]?[0-9]{3,5}")  # area code + short line, 0731-12345


def _mask_labelled_phone(m: re.Match[str]) -> str | None:
    num = m.group("num")
    if not 7 <= sum(c in _DIGITS for c in num) <= 15 or _SERVICE_LINE.fullmatch(num):
        return None
    return _star(num, 0, 2)


# --- the rules, strongest first ---------------------------------------------------------------

_NB = r"(?<![0-9])(?<![0-9]\.)"  # not inside a longer number, nor the fraction of a decimal
_NA = r"(?![0-9])(?!\.[0-9])"
_GAP = r"[ \t]*(?:[.:#][ \t]*)?(?:[是为][ \t]*)?(?::[ \t]*)?"  # label-to-value filler, unambiguous
_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_PLATE_PROVINCES = tuple(_PROVINCES)    # the plate rule's prefilter: only texts with one of them
_HAN = r"\u3400-\u4dbf\u4e00-\u9fff"

Replacer = Callable[[re.Match[str]], "str | None"]
_RULES: list[tuple[re.Pattern[str], Replacer, str | int, int, tuple[str, ...], str]] = []
_LABEL_CASE = ("工单", "案件", "留言", "诉求", "受理", "流水", "订单", "回执", "投诉", "编号", "单号", "case",
               "ticket", "sr", "service request", "complaint", "unique key", "ref", "request", "order",
               "confirmation")
_LABEL_PHONE = ("电话", "手机", "座机", "固话", "号码", "方式", "微信", "qq", "传真", "tel", "phone", "mobile",
                "cell", "fax", "call", "contact", "whatsapp", "wechat")


def _rule(pattern: str, replace: Replacer, group: str | int = 0, digits: int = 3,
          words: tuple[str, ...] = (), kind: str = "phone") -> None:
    """Register a rule. It only runs on texts with a run of `digits` ASCII digits (after folding)
    and, when `words` are given, containing one of them (lower case); both are cheap prefilters
    that say nothing the pattern does not already require."""
    _RULES.append((re.compile(pattern, re.VERBOSE), replace, group, digits, words, kind))


_rule(r"""(?<![A-Za-z0-9._%+-])(?P<local>[A-Za-z0-9._%+-]{1,64})@
          (?P<domain>[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){0,8}\.[A-Za-z]{2,24})(?![A-Za-z0-9-])""",
      _mask_email, digits=0, words=("@",), kind="email")
_rule(rf"""(?P<keep>[{_PROVINCES}][A-Za-z])
          (?P<rest>[·. -]?(?:(?=[A-Za-z]{{0,5}}[0-9])(?:[A-Za-z0-9]{{5,6}}|[A-Za-z0-9]{{4}}[挂学警港澳])
                            |[A-Z]{{5,6}}|[A-Z0-9]·[A-Z0-9]{{4,5}}))
          (?![A-Za-z0-9])""", _mask_plate, digits=0, words=_PLATE_PROVINCES, kind="plate")
_rule(rf"(?:姓名|联系人)[ \t]*:[ \t]*(?P<name>[{_HAN}]{{2,4}})", _mask_name, "name", digits=0,
      words=("姓名", "联系人"), kind="name")
_rule(r"""(?i:(?<![a-z])(?<![a-z][ ])(?:(?:full|contact|caller|customer)[ ]+)?name)[ \t]*:[ \t]*
          (?P<name>[A-Z][A-Za-z'’.-]*(?:[ ][A-Z][A-Za-z'’.-]*){0,2})""", _mask_name, "name", digits=0,
      words=("name",), kind="name")
# Names in running text (rule 12). Common surnames cover most people; a name is the surname and one
# or two characters, ending where the sentence goes on.
_SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁"
             "任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴"
             "莫孔向汤常康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅"
             "童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶牟艾尤时穆农司卓古吉缪简车项连"
             "芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖"
             "巩明佘池查麻苑迟邝")
_COMPOUND_SURNAMES = ("欧阳", "司马", "诸葛", "上官", "东方", "皇甫", "令狐", "慕容", "尉迟", "公孙", "夏侯", "端木")
_NAME_VERBS = "反映|投诉|举报|来电|致电|咨询|求助|询问|称|表示|说|诉称|家|的"
_TITLES = ("先生", "女士", "小姐", "师傅", "老师", "大爷", "大妈", "阿姨", "奶奶", "爷爷", "同学", "某", "姓", "氏")
_PLACE_END = "村庄镇乡屯区县市路街巷湾沟营寨堡铺店桥河山园苑府城楼"
_NAME = (rf"(?P<name>(?:{'|'.join(_COMPOUND_SURNAMES)}|[{_SURNAMES}])[{_HAN}]{{1,2}}?)")


def _mask_running_name(m: re.Match[str]) -> str | None:
    name = m.group("name")
    surname = 2 if name[:2] in _COMPOUND_SURNAMES else 1
    rest = name[surname:]
    if not rest or rest.startswith(_TITLES) or name[-1] in _PLACE_END:
        return None
    return name[:surname] + "*" * len(rest)


_rule(rf"""(?:我叫|名叫|本人|户主|业主|来电人|反映人|投诉人|申请人|求助人|当事人|联系人|诉求人|来信人|留言人|举报人)[ \t]*[:：]?[ \t]*{_NAME}
          (?=(?:{_NAME_VERBS})|[，,。.;；、！!？?\s（(：:0-9+]|$)""", _mask_running_name, "name", digits=0,
      words=("我叫", "名叫", "本人", "户主", "业主", "人"), kind="name")
_rule(rf"""(?:居民|村民|市民|网友|家长|群众|租户|患者){_NAME}
          (?=(?:{_NAME_VERBS})|[，,。.;；、！!？?\s（(：:0-9+]|$)""", _mask_running_name, "name",
      digits=0, words=("居民", "村民", "市民", "网友", "家长", "群众", "租户", "患者"), kind="name")
_WORD = r"[A-Z][a-z]*(?:['’-][A-Z][a-z]+)*"   # Smith, O'Brien, Lopez-Diaz; not the 's of a possessive
_rule(rf"""(?i:(?<![a-z])my[ ]+name[ ]+is)[ ]+(?P<name>{_WORD}(?:[ ]{_WORD}){{0,2}})""",
      _mask_name, "name", digits=0, words=("my name",), kind="name")
_rule(rf"""(?<![A-Za-z])(?:Mr|Mrs|Ms|Miss)\.?[ ]+(?P<name>{_WORD})""", _mask_name, "name", digits=0,
      words=("mr", "ms", "miss"), kind="name")
_rule(r"""(?:(?:工单|案件|留言|诉求|受理|流水|订单|回执)(?:编号|编码|单号|号码|号)|工单|投诉(?:编号|单号|号)
          |(?<!证)(?<!证件)编号|单号
          |(?i:(?<![a-z])(?:case|ticket|sr|service[ ]request|complaint|unique[ ]key|ref|reference)(?![a-z]))
          |(?i:(?<![a-z])(?:request|order|confirmation)(?=[ ]?(?:\#|no\.|number))))
          (?:[ ]*(?i:(?:no\.?|number|num\.?|id|key|\#)(?![a-z])))?"""
      + _GAP + rf"(?P<tok>(?:[A-Za-z]{{1,4}}-?)?[0-9](?:[0-9-]*[0-9Xx])?){_NA}",
      _keep_case_number, "tok", words=_LABEL_CASE, kind="keep")
_rule(rf"""{_NB}(?:[0-9]{{4}}(?:[-/.][0-9]{{1,2}}[-/.][0-9]{{1,2}}|年[0-9]{{1,2}}月(?:[0-9]{{1,2}}[日号])?)
          (?:[ T]?[0-9]{{1,2}}:[0-9]{{2}}(?::[0-9]{{2}})?)?
          |[0-9]{{1,2}}月[0-9]{{1,2}}[日号]
          |[0-9]{{1,2}}[/.-][0-9]{{1,2}}[/.-][0-9]{{4}}
          |[0-9]{{1,2}}:[0-9]{{2}}(?::[0-9]{{2}})?){_NA}""", _keep, kind="keep")
_rule(r"(?:身份证件|身份证|证件|公民身份)(?:号码|编号|号)?" + _GAP + rf"(?P<num>[0-9]{{14,17}}[0-9Xx]){_NA}",
      _mask_labelled_id, "num", words=("身份", "证件"), kind="id")
_rule(r"(?i:(?<![a-z])(?:ssn|social[ ]security(?:[ ](?:number|no\.?|\#))?))" + _GAP
      + rf"(?P<num>[0-9]{{3}}[ -]?[0-9]{{2}}[ -]?[0-9]{{4}}){_NA}", _mask_last4, "num",
      words=("ssn", "social"), kind="ssn")
_rule(rf"""{_NB}(?:(?P<id18>[1-8][0-9]{{5}}[ -]?
                    (?:18|19|20)[0-9]{{2}}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])[ -]?[0-9]{{3}}[0-9Xx])
          |[1-8][0-9]{{7}}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])[0-9]{{3}}){_NA}""", _mask_id, kind="id")
_rule(rf"{_NB}[1-8](?:[ -]?[0-9]){{16}}[ -]?[0-9Xx]{_NA}", _mask_split_id, kind="id")
_rule(rf"""(?:(?:\+|{_NB}00|{_NB})86[ -]?|\(\+?86\)[ ]?|{_NB})
          (?:(?P<first3>1[3-9][0-9])|\((?P<first3b>1[3-9][0-9])\))
          [ ./-]?[0-9]{{4}}[ ./-]?[0-9]{{4}}{_NA}""", _mask_mobile)
_rule(rf"""(?:(?:\+|{_NB}00)86[ -]?
             (?:\(0?(?P<area>[1-9][0-9]{{1,2}})\)[ -]?|0?(?P<area2>[1-9][0-9]{{1,2}})[ -])
          |{_NB}\((?P<area3>0[1-9][0-9]{{1,2}})\)[ -]?
          |{_NB}(?P<area4>0[1-9][0-9]{{1,2}})[ -])
          [0-9]{{3,4}}[ -]?[0-9]{{4}}{_NA}""", _mask_landline)
_rule(rf"{_NB}(?P<area>0[12][0-9]|0[3-9][0-9]{{2}})[0-9]{{7,8}}{_NA}", _mask_landline)
_rule(rf"""(?:\+1[ .-]?|{_NB}1[ .-]?|{_NB})
          (?:\((?P<area>[2-9][0-9]{{2}})\)[ ]?[0-9]{{3}}[ .-]?|(?P<area2>[2-9][0-9]{{2}})[ .-][0-9]{{3}}[ .-])
          [0-9]{{4}}{_NA}""", _mask_nanp)
_rule(rf"{_NB}(?P<num>[0-9]{{3}}([- ])[0-9]{{2}}\2[0-9]{{4}}){_NA}", _mask_last4, "num", kind="ssn")
# A bare ten-digit run shaped like a North American number (area and exchange both start 2-9).
_rule(rf"{_NB}(?P<area>[2-9][0-9]{{2}})[2-9][0-9]{{6}}{_NA}", _mask_nanp)
# After the North American rules, so that 1-718-555-0199 keeps its US form.
_rule(rf"{_NB}1(?:[ -]?[0-9]){{10}}{_NA}", _mask_split_mobile, digits=1)
_rule(r"""(?:联系方式|(?:联系|办公|家庭|移动)?(?:电话|手机|座机|固话|号码)(?:号码|号)?|微信号?|(?i:qq)(?:号码|号)?|传真
          |(?i:(?<![a-z])(?:telephone|tel|phone|mobile|cell(?:phone)?|fax|call|contact|whatsapp|wechat)
               (?:[ ]?(?:no\.?|number|\#))?(?![a-z])))"""
      + _GAP + rf"(?P<num>\+?[0-9]+(?:[.-][0-9]+|[ ][0-9]{{3,}}){{0,6}}){_NA}",
      _mask_labelled_phone, "num", digits=1, words=_LABEL_PHONE)

_DIGIT_RUN = {0: re.compile(""), 1: re.compile("[0-9]"), 3: re.compile("[0-9]{3}")}


# --- public API ---------------------------------------------------------------------------------

def _changes(text: str, tier: str = PUBLIC) -> list[tuple[int, int, str]]:
    """Non-overlapping (start, end, replacement) spans that alter `text`, in text order. A rule whose
    kind the tier does not mask still claims its span (so no weaker rule masks part of it) but leaves
    it as written."""
    masked = _MASKED_KINDS.get(tier)
    if masked is None:
        raise ValueError(f"unknown masking tier {tier!r}; tiers: {', '.join(TIERS)}")
    folded = _fold(text)
    has_run = {n: pattern.search(folded) is not None for n, pattern in _DIGIT_RUN.items()}
    lower = folded.lower()
    starts: list[int] = []
    chosen: list[tuple[int, int, str]] = []
    for pattern, replace, group, digits, words, kind in _RULES:
        if not has_run[digits] or (words and not any(w in lower for w in words)):
            continue
        for m in pattern.finditer(folded):
            start, end = m.span(group)
            new = replace(m)
            if new is None or start == end:
                continue
            if kind != "keep" and kind not in masked:
                new = text[start:end]
            i = bisect_right(starts, start)
            if (i and chosen[i - 1][1] > start) or (i < len(chosen) and chosen[i][0] < end):
                continue  # a stronger rule already owns part of this span
            starts.insert(i, start)
            chosen.insert(i, (start, end, new))
    return [(s, e, new) for s, e, new in chosen if new != folded[s:e] and new != text[s:e]]


def _as_text(text: object) -> str:
    if text is None:
        return ""
    return text if isinstance(text, str) else str(text)


def mask_text(text: str | None, tier: str = PUBLIC) -> str:
    """`text` with the personal data the tier may not see masked ("" for None); see Tiers above."""
    text = _as_text(text)
    changes = _changes(text, tier) if text else []
    if not changes:
        return text
    out, pos = [], 0
    for start, end, new in changes:
        out.append(text[pos:start])
        out.append(new)
        pos = end
    out.append(text[pos:])
    return "".join(out)


def contains_personal_data(text: str | None, tier: str = PUBLIC) -> bool:
    """True when `mask_text` would change `text` for the tier."""
    text = _as_text(text)
    return bool(text) and bool(_changes(text, tier))
