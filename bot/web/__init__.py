"""The web page: the conversation in any phone browser, for people who cannot reach Telegram.

app.py: the aiohttp adapter of the conversation core; page.py: screens as HTML (templates in
bot/templates/web/); session.py: anonymous sessions and signed forms; settings.py: WEB_*;
cli.py: `yibao web`; links.py: the web address a poster's QR code opens.
"""
