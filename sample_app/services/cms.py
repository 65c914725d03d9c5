"""The cms service: the CMS dapp's side on the user's own peer (scenario 1 of the whitepaper).

The page (sample_app/cms/, served by this peer) logs in with the browser's wallet: the wallet
signs the login message, only the signature comes here, and this peer derives the user's master
key from it. Posts are documents of the semantic graph sealed for their readers: publishing one
is `session.publish_document`, reading one is `session.read_document` (peerkit.naming.content).
Every request is for this peer's own user (`peers: false` in the schema).
"""

from __future__ import annotations

from peerkit import Context
from peerkit.errors import Refused
from peerkit.naming.client import Session
from peerkit.naming.keys import KdfParams, login_message
from peerkit.storage.sealed import Reader
from peerkit.wallets import SignedMessageWallet

from ..generated.cms import (
    Account,
    CmsService,
    GetAccount,
    Login,
    Post,
    PostRef,
    Publish,
    ReaderCard,
    ReadPost,
)

#: the app's name in the key derivation: the same wallet gives another master key elsewhere
APP = "peerkit sample cms"


class NotLoggedIn(Refused):
    code = "not_logged_in"


class Cms(CmsService):
    #: the key derivation's cost (a person's login takes ~0.3 s; tests may subclass it faster)
    kdf = KdfParams()

    def __init__(self) -> None:
        self.session: Session | None = None

    async def login(self, msg: Login, ctx: Context) -> Account:
        passphrase = msg.passphrase
        wallet = SignedMessageWallet(
            msg.address, login_message(passphrase), bytes.fromhex(msg.signature[2:])
        )
        self.session = await self.node.naming.login(wallet, passphrase, APP, kdf=self.kdf)
        return self._account()

    async def get_account(self, msg: GetAccount, ctx: Context) -> Account:
        return self._account()

    async def publish(self, msg: Publish, ctx: Context) -> PostRef:
        session = self._session()
        readers = [Reader(r.id, bytes.fromhex(r.box)) for r in msg.readers]
        post = {"@type": "Article", "headline": msg.title, "articleBody": msg.body}
        if msg.logo:
            # the logo is sealed for the same readers, and linked from the post
            logo = await self.node.storage.put_sealed(
                msg.logo, owner=session.identity, readers=readers, pin=f"content/{msg.label}.logo"
            )
            post["image"] = {
                "@type": "ImageObject",
                "contentUrl": f"ipfs://{logo.encode()}",
                "encodingFormat": msg.logo_type or "application/octet-stream",
            }
        published = await session.publish_document(msg.label, post, readers=readers)
        return PostRef(
            label=msg.label,
            name=published.name,
            readers=session.me["content"][published.name]["readers"],
        )

    async def read_post(self, msg: ReadPost, ctx: Context) -> Post:
        session = self._session()
        record, post = await session.read_published(msg.name)
        logo, logo_type = b"", ""
        image = post.get("image")
        if isinstance(image, dict) and str(image.get("contentUrl", "")).startswith("ipfs://"):
            cid = str(image["contentUrl"]).removeprefix("ipfs://")
            logo = await self.node.storage.open_sealed(cid, session.identity)
            logo_type = str(image.get("encodingFormat", ""))
        return Post(
            name=msg.name,
            sequence=record.sequence,
            title=str(post.get("headline", "")),
            body=str(post.get("articleBody", "")),
            logo=logo,
            logo_type=logo_type,
        )

    def _session(self) -> Session:
        if self.session is None:
            raise NotLoggedIn("log in first", hint="the page's Log in button asks your wallet")
        return self.session

    def _account(self) -> Account:
        session = self._session()
        me = session.me
        return Account(
            address=session.wallet.address if session.wallet else "",
            reader=ReaderCard(id=session.reader.id, box=session.reader.box.hex()),
            names=list(me.get("names", [])),
            posts=[
                PostRef(label=entry["label"], name=name, readers=list(entry.get("readers", [])))
                for name, entry in sorted(me.get("content", {}).items())
            ],
        )
