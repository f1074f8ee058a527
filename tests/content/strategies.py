"""Hypothesis strategies for every content kind."""

from __future__ import annotations

from hypothesis import strategies as st

from accord.content import model
from accord.content.fields import no_controls

ids = st.binary(min_size=16, max_size=16)
keys = st.binary(min_size=32, max_size=32)
_chars = st.characters(blacklist_categories=("Cc", "Cs"))
text = st.text(alphabet=st.one_of(_chars, st.sampled_from("\n\t")), max_size=120).filter(
    lambda s: no_controls(s, allow_newlines=True)
)
one_line = st.text(alphabet=_chars, max_size=60).filter(no_controls)
emoji = (
    st.text(alphabet=_chars, min_size=1, max_size=6)
    .filter(lambda s: no_controls(s) and not any(c.isspace() for c in s))
    .filter(lambda s: len(s.encode()) <= model.MAX_EMOJI_BYTES)
)
media_type = st.from_regex(r"[a-z]{1,12}/[a-z0-9.+-]{1,24}", fullmatch=True)
file_name = one_line.filter(model._file_name)
locator = st.text(alphabet=_chars, min_size=1, max_size=60).filter(no_controls)

attachments = st.builds(
    model.Attachment,
    locator=locator,
    key=keys,
    ciphertext_sha256=keys,
    size=st.integers(0, model.MAX_ATTACHMENT_SIZE),
    media_type=media_type,
    file_name=file_name,
)

bodies = st.one_of(
    st.builds(
        model.Text,
        text=text,
        reply_to=st.none() | ids,
        attachments=st.lists(attachments, max_size=3).map(tuple),
    ),
    st.builds(model.Reaction, target=ids, emoji=emoji, remove=st.booleans()),
    st.builds(model.Edit, target=ids, text=text),
    st.builds(model.Delete, target=ids),
    st.builds(model.ReadReceipt, message_ids=st.lists(ids, max_size=20, unique=True).map(tuple)),
    st.builds(model.TimerSetting, seconds=st.integers(0, model.MAX_TIMER_SECONDS)),
    st.builds(model.Notice, kind=st.sampled_from(model.NoticeKind.ALL), subject=one_line),
)

headers = st.builds(
    model.Header,
    message_id=ids,
    sent_at=st.integers(0, 2**64 - 1),
    expires_after=st.integers(0, model.MAX_TIMER_SECONDS),
    franking_key=keys,
)

contents = st.builds(model.Content, header=headers, body=bodies)
