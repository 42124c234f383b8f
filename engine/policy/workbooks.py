"""Reading uploaded Excel workbooks without trusting them. Every reader of an uploaded .xlsx goes
through :func:`open_upload`; openpyxl sees the bytes only after these checks (issue 15: a 978 KB file
whose cell held 1 GB of text took the server from 520 MB to 2.3 GB, and XML bombs answered 500).

Before loading, the file must be a zip archive of at most ``MAX_MEMBERS`` members; each member's
declared size and compression ratio are checked, then every member is really decompressed, in
chunks and counting bytes, against a per-member and a total cap (a declared size is only a claim).
A member that is XML is parsed with expat up to its root element: a DOCTYPE or an entity
declaration (billion laughs, external entities) is refused; Excel never writes either. Then the
workbook is loaded read-only and its rows are read with caps on rows, columns and cell length.

Any refusal, and any error of zipfile, expat or openpyxl, is a :class:`ValidationFailed` on the
upload's form field with a Chinese message; nothing has been imported at that point.
"""
from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from xml.parsers import expat

from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from engine.errors import ValidationFailed

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_MEMBERS = 200
MAX_TOTAL_BYTES = 50 * 1024 * 1024  # all members decompressed
MAX_MEMBER_BYTES = 40 * 1024 * 1024
MAX_RATIO = 100  # declared uncompressed : compressed, for members above RATIO_FROM bytes
RATIO_FROM = 1024 * 1024
MAX_ROWS = 20_000
MAX_COLUMNS = 100
MAX_CELL_CHARS = 32_767  # Excel's own limit for one cell
CHUNK = 64 * 1024
NOTHING = "未导入任何数据"
CORRUPT = f"文件已损坏或被篡改（压缩内容与其声明的大小或校验和不符），{NOTHING}"
UNREADABLE = f"无法读取这个 Excel 文件（文件已损坏或不是 .xlsx 格式），{NOTHING}"


def _mb(size: int) -> str:
    return f"{size // (1024 * 1024)} MB"


class UploadedWorkbook:
    """A checked workbook, read-only. Use as a context manager; rows come through :meth:`rows`."""

    def __init__(self, book, field: str):
        self._book = book
        self.field = field

    def __enter__(self) -> UploadedWorkbook:
        return self

    def __exit__(self, *exc) -> None:
        self._book.close()

    @property
    def sheetnames(self) -> list[str]:
        return list(self._book.sheetnames)

    def rows(self, name: str) -> Iterator[tuple]:
        """The values of sheet ``name`` row by row (row 1 first), at most MAX_ROWS rows of at most
        MAX_COLUMNS values, each text at most MAX_CELL_CHARS characters."""
        sheet = self._book[name]
        sheet.reset_dimensions()  # the sheet's own <dimension> may claim a million rows; trust the cells
        try:
            for number, values in enumerate(sheet.iter_rows(max_row=MAX_ROWS + 1, values_only=True), start=1):
                yield self._checked(name, number, values)
        except ValidationFailed:
            raise
        except Exception:  # openpyxl, zipfile and expat raise many kinds; none may become a 500
            raise self._refuse(UNREADABLE) from None

    def _checked(self, name: str, number: int, values: tuple) -> tuple:
        if number > MAX_ROWS:
            raise self._refuse(f"工作表「{name}」超过 {MAX_ROWS:,} 行，请分批导入，{NOTHING}")
        extra = values[MAX_COLUMNS:]
        if extra and extra.count(None) != len(extra):
            raise self._refuse(f"工作表「{name}」第 {number} 行超过 {MAX_COLUMNS} 列，{NOTHING}")
        values = values[:MAX_COLUMNS]
        for column, value in enumerate(values, start=1):
            if isinstance(value, str) and len(value) > MAX_CELL_CHARS:
                raise self._refuse(f"工作表「{name}」第 {number} 行 {get_column_letter(column)} 列超过 "
                                   f"{MAX_CELL_CHARS:,} 个字符（Excel 单元格的上限），{NOTHING}")
        return values

    def _refuse(self, message: str) -> ValidationFailed:
        return ValidationFailed({self.field: message})


def open_upload(content: bytes, field: str = "file", max_bytes: int = MAX_UPLOAD_BYTES) -> UploadedWorkbook:
    """Check ``content`` (an uploaded .xlsx) and open it read-only. ``field``: the form field that
    carried the file, the key of the ValidationFailed raised for any refusal."""
    def refuse(message: str) -> ValidationFailed:
        return ValidationFailed({field: message})

    if len(content) > max_bytes:
        raise refuse(f"文件不能超过 {_mb(max_bytes)}")
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
    except (zipfile.BadZipFile, ValueError, OSError):
        raise refuse("不是有效的 Excel（.xlsx）文件（如为 .xls 或已加密的文件，请另存为不加密的 .xlsx）") from None
    with archive:
        message = _declared_problem(archive) or _content_problem(archive)
    if message:
        raise refuse(message)
    try:
        book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception:  # as in UploadedWorkbook.rows
        raise refuse(UNREADABLE) from None
    return UploadedWorkbook(book, field)


def _declared_problem(archive: zipfile.ZipFile) -> str | None:
    """What the archive's directory admits to: too many members, too large, too compressed."""
    members = archive.infolist()
    if len(members) > MAX_MEMBERS:
        return f"文件包含 {len(members)} 个压缩成员，超过上限 {MAX_MEMBERS} 个，不是正常的 Excel 文件，{NOTHING}"
    for info in members:
        if info.flag_bits & 0x1:
            return "文件已加密，请另存为不加密的 .xlsx 后再导入"
        if info.file_size > MAX_MEMBER_BYTES:
            return _too_large(info.filename)
        if info.file_size > RATIO_FROM and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            return f"文件中的「{info.filename}」压缩比超过 {MAX_RATIO}:1，可能是压缩炸弹，{NOTHING}"
    if sum(info.file_size for info in members) > MAX_TOTAL_BYTES:
        return _too_large(None)
    return None


def _too_large(member: str | None) -> str:
    if member is None:
        return f"文件解压后超过 {_mb(MAX_TOTAL_BYTES)}，可能是压缩炸弹，{NOTHING}"
    return f"文件中的「{member}」解压后超过 {_mb(MAX_MEMBER_BYTES)}，可能是压缩炸弹，{NOTHING}"


def _content_problem(archive: zipfile.ZipFile) -> str | None:
    """Decompress every member in chunks, counting the bytes that really come out, and check the
    prolog of each XML member."""
    total = 0
    for info in archive.infolist():
        size, prolog = 0, _Prolog(info.filename)
        try:
            with archive.open(info) as stream:
                while chunk := stream.read(CHUNK):
                    size += len(chunk)
                    total += len(chunk)
                    if size > MAX_MEMBER_BYTES:
                        return _too_large(info.filename)
                    if total > MAX_TOTAL_BYTES:
                        return _too_large(None)
                    if message := prolog.feed(chunk):
                        return message
        except (zipfile.BadZipFile, EOFError, ValueError, OSError, NotImplementedError, RuntimeError):
            return CORRUPT  # a bad CRC (a size that lied), a truncated stream, an unknown compression
        if message := prolog.feed(b"", final=True):
            return message
    return None


class _RootReached(Exception):
    """The root element began: no DOCTYPE or entity declaration can follow."""


class _Declared(Exception):
    """A DOCTYPE or entity declaration."""


# Set aside when telling XML from other parts: byte-order marks, NUL bytes (UTF-16 and UTF-32), white space.
_BLANK = b"\x00\xef\xbb\xbf\xff\xfe \t\r\n"
_EBCDIC = b"\x4c\x6f\xa7\x94"  # "<?xm" in EBCDIC, which libxml2 reads


class _Prolog:
    """Expat over a member's bytes up to the root element. A part that is not XML (an image: its first
    byte, blanks aside, is not "<") is let through; XML must parse and hold no DOCTYPE, entity
    declaration or external reference before its root element, as none can come after it."""

    def __init__(self, name: str):
        self.name = name
        self.parser: expat.XMLParserType | None = self._parser()
        self.xml: bool | None = None  # unknown while only blanks have come
        self.started = False
        self.done = False

    def feed(self, chunk: bytes, final: bool = False) -> str | None:
        if self.done:
            return None
        if self.xml is None:
            significant = chunk.lstrip(_BLANK)
            if not self.started and chunk.startswith(_EBCDIC):
                self.xml = True
            elif significant:
                self.xml = significant.startswith(b"<")
            self.started = self.started or bool(chunk)
        if self.parser is not None and self.xml is not False:
            try:
                self.parser.Parse(chunk, final)
            except _RootReached:
                self.done = True
                return None
            except _Declared:
                self.done = True
                return (f"文件中的「{self.name}」含有 DOCTYPE 或实体声明（XML 炸弹或外部实体攻击的手法，"
                        f"Excel 不会写出这样的内容），{NOTHING}")
            except (expat.ExpatError, ValueError, LookupError):
                self.parser = None  # expat cannot read it: whether that matters depends on what it is
        if self.xml is False or final or (self.parser is None and self.xml):
            self.done = True
            if self.xml and self.parser is None:
                return f"文件中的「{self.name}」不是有效的 XML，{NOTHING}"
        return None

    @staticmethod
    def _parser() -> expat.XMLParserType:
        parser = expat.ParserCreate()
        parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)

        def declared(*_):
            raise _Declared

        def root(*_):
            raise _RootReached

        parser.StartDoctypeDeclHandler = declared
        parser.EntityDeclHandler = declared
        parser.ExternalEntityRefHandler = declared
        parser.StartElementHandler = root
        return parser
