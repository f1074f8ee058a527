"""``accord demo``: a whole conversation on two federated providers on loopback.

Starts two ``accord server`` processes in a temporary folder, alpha.test and
beta.test, which know each other (``--peer``), creates alice (phone, and
later a linked laptop) and carol on alpha.test and bob on beta.test as
separate encrypted profiles, and
runs a group conversation with text, a reply, a reaction, an edit, an
attachment, a device link and a member removal. Then it prints each
device's transcript and what each provider holds for that conversation
(alpha.test is its hub, beta.test a follower), and checks that no plaintext,
attachment byte or attachment key is anywhere in either provider's data folder.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

import click

from accord.cli.client_common import console, now_ms
from accord.cli.message_cmd import format_item
from accord.cli.provider_inspect import find_needles, group_messages, table_counts
from accord.cli.safe_text import shown
from accord.client import conversations as convs
from accord.client import linking, message_requests, messaging
from accord.client.device import Device
from accord.client.history import timeline
from accord.client.store import KdfParams
from accord.errors import NotFound
from accord.federation.loopback import federation

DOMAIN = "alpha.test"
BETA = "beta.test"
# OWASP's smallest Argon2id setting: the demo makes five profiles quickly.
DEMO_KDF = KdfParams(time_cost=2, memory_kib=19 * 1024, parallelism=1)
PASSPHRASE = "demo passphrase"
WAIT_TRIES, WAIT_STEP_S = 50, 0.1  # bounded wait for what crosses providers
MAP = b"Trail map: start at the lake, left at the old oak, 6.5 km to the summit.\n" * 40


async def _device(root: Path, name: str, account: str | None, server: str) -> Device:
    dev = Device.init(root / name, PASSPHRASE, kdf=DEMO_KDF)
    if account is not None:
        await dev.register(account, server, now_ms())
    return dev


def _step(text: str) -> None:
    console.print(f"[bold green]>[/bold green] {text}")


async def _sync(*devs: Device) -> None:
    for d in devs:
        await d.sync(now_ms())


async def _until_received(msg_id: bytes, *devs: Device) -> None:
    """Sync until each device has the message (it may still be crossing providers)."""
    for dev in devs:
        for _ in range(WAIT_TRIES):
            await dev.sync(now_ms())
            try:
                dev.store.message(msg_id)
                break
            except NotFound:
                await asyncio.sleep(WAIT_STEP_S)


async def _accept_request(dev: Device, who: str) -> None:
    """A stranger's invitation, of either provider, waits as a message request (T14):
    sync until it is listed, show its preview, accept it."""
    for _ in range(WAIT_TRIES):
        await dev.sync(now_ms())
        if message_requests.pending(dev):
            break
        await asyncio.sleep(WAIT_STEP_S)
    req = message_requests.pending(dev)[0]
    summary = message_requests.summary(dev, req)
    console.print(f"  {who} has a message request from {shown(summary['from'])}, preview "
                  f"only: {shown(summary['previews'])}; accepts it")
    await message_requests.accept(dev, req, now_ms())


async def _link_laptop(phone: Device, laptop: Device, url: str) -> None:
    slot = await linking.open_slot(phone, now_ms())
    console.print(f"  the phone shows the linking code {slot.code} (and its QR code)")
    await linking.join(laptop, slot.code, url)
    new = await linking.poll_answer(phone, slot)
    assert new is not None, "the laptop answered the code"
    console.print(f"  both show the laptop's key fingerprint {new.fingerprint}; "
                  "the provider saw only ciphertext")
    device_id = await linking.certify(phone, slot, new)
    await laptop.complete_link(now_ms())
    await linking.add_to_conversations(phone, device_id, now_ms())
    await _sync(phone, laptop)


async def _conversation(root: Path, url: str, beta_url: str) -> dict[str, Any]:
    phone = await _device(root, "alice-phone", f"alice@{DOMAIN}", url)
    bob = await _device(root, "bob", f"bob@{BETA}", beta_url)
    carol = await _device(root, "carol", f"carol@{DOMAIN}", url)
    laptop = await _device(root, "alice-laptop", None, url)
    devs = {"alice (phone)": phone, "bob": bob, "carol": carol, "alice (laptop)": laptop}
    secrets: list[bytes] = [MAP]
    _step("alice creates 'Weekend trip' with bob and carol")
    conv = await convs.create(phone, "Weekend trip", [f"bob@{BETA}", f"carol@{DOMAIN}"],
                              now_ms())
    await _sync(bob, carol)
    texts = ["Who is up for hiking on Saturday?", "Count me in!",
             "Who is up for hiking on Saturday morning?", "Here is the trail map",
             "Hello from my laptop", "See you all at 8", "Just the two of us and alice now"]
    secrets += [t.encode() for t in texts]
    _step("alice: text; bob: a reply; carol: a reaction; alice: an edit")
    first = await messaging.send_text(phone, conv, texts[0], now_ms())
    await _accept_request(bob, f"bob ({BETA})")
    await _accept_request(carol, f"carol ({DOMAIN})")  # the same rules on one provider
    await _until_received(first, bob, carol)  # bob answers what he has read
    await messaging.send_text(bob, convs.find(bob, "Weekend trip"), texts[1], now_ms(),
                              reply_to=first)
    await messaging.react(carol, convs.find(carol, "Weekend trip"), first, "👍", now_ms())
    await _sync(phone)
    await messaging.edit(phone, conv, first, texts[2], now_ms())
    _step("bob sends an attachment (encrypted with a fresh key); carol downloads it")
    await _sync(bob)
    file_id = await messaging.send_file(bob, convs.find(bob, "Weekend trip"), MAP,
                                        "trail-map.txt", "text/plain", now_ms(), text=texts[3])
    await _sync(carol, phone)
    name, data = await messaging.fetch_attachment(carol, file_id)
    assert data == MAP, "attachment round trip"
    console.print(f"  carol got {shown(name)}: {len(data)} bytes, hash and tag checked")
    secrets.append(bytes.fromhex(carol.store.message(file_id).meta["attachments"][0]["key"]))
    _step("alice links her laptop: the phone shows a code, the laptop enters it")
    await _link_laptop(phone, laptop, url)
    await messaging.send_text(laptop, convs.find(laptop, "Weekend trip"), texts[4], now_ms())
    await _sync(bob, carol, phone)
    await messaging.send_text(bob, convs.find(bob, "Weekend trip"), texts[5], now_ms())
    _step("alice removes carol; bob writes again: carol cannot read it")
    await _sync(phone)
    await convs.remove_member(phone, convs.find(phone, "Weekend trip"), f"carol@{DOMAIN}",
                              now_ms())
    await _sync(bob)
    await messaging.send_text(bob, convs.find(bob, "Weekend trip"), texts[6], now_ms())
    await _sync(phone, laptop, carol, bob)
    return {"devs": devs, "group_id": conv["group_id"], "secrets": secrets}


def _print_transcripts(devs: dict[str, Device]) -> None:
    for label, dev in devs.items():
        conv = convs.find(dev, "Weekend trip")
        console.rule(f"[bold]{label}[/bold] sees")
        items = timeline(dev, conv)
        for i in items:
            console.print(format_item(i, items))


def _print_provider(data_dir: Path, group_id: bytes) -> None:
    console.rule(f"[bold]what {data_dir.name} holds for this conversation[/bold]")
    for row in group_messages(data_dir, group_id):
        sender = shown(row["sender"] or "(hidden)")
        console.print(f"  {row['kind']:<11} epoch {row['epoch']:<2} sender {sender:<22} "
                      f"{row['size']:>6} bytes  {shown(row['head'])}…")
    blobs = [p for p in (data_dir / "blobs").rglob("*") if p.is_file()]
    console.print(f"  blobs: {len(blobs)} file(s), sizes "
                  f"{sorted(p.stat().st_size for p in blobs)} (padded ciphertext)")
    console.print(f"  tables: {table_counts(data_dir)}")


async def _run(root: Path) -> int:
    providers = federation(root / "providers", [DOMAIN, BETA])
    try:
        for p in providers:
            p.start()
            console.print(f"provider {p.domain} on {p.url} (data in {p.data_dir})")
        out = await _conversation(root, providers[0].url, providers[1].url)
        for dev in out["devs"].values():
            await dev.disconnect()
    finally:
        for p in providers:
            p.stop()
    _print_transcripts(out["devs"])
    hits = []
    for p in providers:
        _print_provider(p.data_dir, out["group_id"])
        hits += find_needles(p.data_dir, out["secrets"])
    console.rule("[bold]T02 check[/bold]")
    console.print(f"  searched both providers' databases, WAL and blobs for {len(out['secrets'])} "
                  "plaintexts, the attachment and its key (raw, hex, base64): "
                  + ("[green]none found[/green]" if not hits else f"[red]FOUND {hits}[/red]"))
    for dev in out["devs"].values():
        dev.close()
    return 1 if hits else 0


def _web_hint(root: Path | None) -> None:
    """How to open the web app (issue 20) on the demo's profiles."""
    if root is None:
        console.print("Open the demo's profiles in the browser: run [bold]accord demo --keep "
                      "DIR[/bold], then [bold]ACCORD_PASSPHRASE='demo passphrase' accord web "
                      "--profile DIR/bob[/bold] (or DIR/alice-phone, DIR/carol)")
        return
    for name in ("alice-phone", "bob", "carol"):
        console.print(f"Open {name} in the browser: [bold]ACCORD_PASSPHRASE='{PASSPHRASE}' "
                      f"accord web --profile {shown(root / name)}[/bold]")
    console.print("(the demo's providers have stopped: the app shows what each device holds)")


@click.command("demo")
@click.option("--keep", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Keep the demo's profiles and providers' data in this folder "
              "(to open them with `accord web`).")
def demo(keep: Path | None) -> None:
    """Run an end-to-end encrypted group conversation across two providers on loopback."""
    started = time.monotonic()
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        status = asyncio.run(_run(keep))
    else:
        with tempfile.TemporaryDirectory(prefix="accord-demo-") as tmp:
            status = asyncio.run(_run(Path(tmp)))
    console.print(f"demo finished in {time.monotonic() - started:.1f} s")
    _web_hint(keep)
    raise SystemExit(status)
