"""A small multipart/form-data reader (the stdlib's cgi module is deprecated)."""

from __future__ import annotations

from dataclasses import dataclass, field
from email.message import Message


@dataclass(frozen=True)
class Part:
    name: str | None
    filename: str | None
    content_type: str
    data: bytes = field(repr=False)


def boundary_of(content_type: str | None) -> str | None:
    """The boundary of a multipart/form-data Content-Type, else None."""
    if not content_type:
        return None
    message = Message()
    message["Content-Type"] = content_type
    if message.get_content_type() != "multipart/form-data":
        return None
    boundary = message.get_param("boundary")
    return boundary if isinstance(boundary, str) and boundary else None


def parse(body: bytes, boundary: str) -> list[Part]:
    """The parts of a multipart body; ValueError when it is malformed."""
    delimiter = b"--" + boundary.encode()
    if not body.startswith(delimiter):
        raise ValueError("the body does not start with the boundary")
    parts = []
    for chunk in body.split(delimiter)[1:]:
        if chunk.startswith(b"--"):
            break  # the closing delimiter
        head, separator, data = chunk.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        if not separator:
            raise ValueError("a part has no header block")
        headers = Message()
        for line in head.decode("utf-8", "replace").split("\r\n"):
            header, colon, value = line.partition(":")
            if colon:
                headers[header.strip()] = value.strip()
        name = headers.get_param("name", header="content-disposition")
        parts.append(
            Part(
                name=name if isinstance(name, str) else None,
                filename=headers.get_filename(),
                content_type=headers.get_content_type(),
                data=data.removesuffix(b"\r\n"),
            )
        )
    else:
        raise ValueError("the closing boundary is missing")
    return parts
