"""Private data: normalisation, asks for it, the data itself, redaction, and adversarial
inputs. Every example here was written by the team (none is copied from a corpus)."""

from __future__ import annotations

import dataclasses
import json
import os
import time
from pathlib import Path

import pytest

from helpforce.policies.normalize import Normalized, clear_cache, normalize
from helpforce.policies.privatedata import (
    CATEGORIES,
    SECRETS,
    Ask,
    Found,
    find_asks,
    find_private_data,
    redact,
)

# -- normalisation --------------------------------------------------------------------------

NORMALIZE = [
    ("What\u2019s ur acct # and zip?", "what's your account number and zip?"),
    ("o r d e r  n u m b e r", "order number"),
    ("o.r.d.e.r", "order"),
    ("e-m-a-i-l", "email"),
    ("Your e-mail pls", "your email please"),
    ("e mail", "email"),
    ("0rd3r numb3r", "order number"),
    ("p4ssw0rd", "password"),
    ("em@il", "email"),
    ("\u043erder", "order"),  # Cyrillic о
    ("\u0441\u0430rd", "card"),  # Cyrillic с, а
    ("\u03bfrder", "order"),  # Greek ο
    ("\uff4f\uff52\uff44\uff45\uff52", "order"),  # fullwidth
    ("or\u00adder num\u200eber", "order number"),
    ("or\u200bder\u200f \u2062num\ufeffber", "order number"),
    ("caf\u00e9 \u00f3rd\u00e9r", "cafe order"),
    ("order no. 123", "order number 123"),
    ("order #123", "order number 123"),
    ("acct#123", "account number 123"),
    ("ph no", "phone number"),
    ("d.o.b", "date of birth"),
    ("DOB", "date of birth"),
    ("D.M. us", "dm us"),
    ("pwd", "password"),
    ("conf # ABC", "confirmation number abc"),
    ("ref", "reference"),
    ("addr", "address"),
    ("Line1\n\n  Line2", "line1\nline2"),
    ("a   lot\tof   space", "a lot of space"),
]

NORMALIZE_KEEPS = [
    "ps4 10am $50 1st mp3 win10 covid19",  # real numbers stay numbers
    "john.doe@example.com",
    "in case no one answers",
    "order no longer ships",
    "u.s. citizen",
    "i.e. a test",
    "@teamhelp hi",
    "see https://example.com/u/pls/0rd3r",
    "1z999aa10123456784",
    "4111 1111 1111 1111",
    "+44 20 7946 0958",
    "1 yr warranty",
]


@pytest.mark.parametrize(("text", "expected"), NORMALIZE)
def test_normalize(text: str, expected: str) -> None:
    n = normalize(text)
    assert n.text == expected
    assert len(n.index) == len(n.text)
    # the index points into the original, in order
    assert all(0 <= i < len(text) for i in n.index)
    assert n.index == sorted(n.index)


@pytest.mark.parametrize("text", NORMALIZE_KEEPS)
def test_normalize_keeps_numbers_addresses_and_urls(text: str) -> None:
    assert normalize(text).text == text.lower()


def test_normalize_index_maps_spans_back_to_the_original() -> None:
    text = "Pls send ur o r d e r  n\u200bo. to us"
    n = normalize(text)
    assert n.text == "please send your order number to us"
    s = n.text.index("order number")
    start, end = n.span(s, s + len("order number"))
    assert text[start:end] == "o r d e r  n\u200bo."
    s = n.text.index("your")
    assert text[slice(*n.span(s, s + 4))] == "ur"


def test_normalize_limit_and_result_type() -> None:
    n = normalize("a" * 10_000)
    assert isinstance(n, Normalized)
    assert n.text == "a" * 4096 and n.truncated
    assert normalize("abc", limit=2).text == "ab"
    assert normalize("").text == "" and normalize("").index == []
    with pytest.raises(dataclasses.FrozenInstanceError):
        n.text = "x"  # type: ignore[misc]
    # callers may mutate their copy of the index without affecting the next call
    m = normalize("hello")
    m.index.append(99)
    assert normalize("hello").index == [0, 1, 2, 3, 4]


# -- asks that must be found (public asks for private data) ----------------------------------

ZW = "\u200b"
PUBLIC_ASKS: list[tuple[str, str]] = [
    ("What is your order number?", "order_number"),
    ("what's ur order #?", "order_number"),
    ("Could you share your order no. with us?", "order_number"),
    ("Please send us your acct # and zip", "account_number"),
    ("Send us your acct # and zip", "postcode"),
    ("Can you tell me your account number?", "account_number"),
    ("Would you provide your email address so we can check?", "email"),
    ("Please reply with your e-mail and we'll look.", "email"),
    ("What's the best phone number to reach you?", "phone"),
    ("Can you give us your phone so we can call you back?", "phone"),
    ("Please post your delivery address here.", "address"),
    ("Could you share your home address?", "address"),
    ("We need your tracking number to look into it.", "tracking_number"),
    ("What is your date of birth?", "date_of_birth"),
    ("Please include your zip code.", "postcode"),
    ("Let us know your order number and we'll check.", "order_number"),
    ("Your order number, please?", "order_number"),
    ("Mind sharing your e-mail address?", "email"),
    ("Drop your order number below and we'll take a look!", "order_number"),
    ("Reply to this tweet with your confirmation number.", "confirmation_ref"),
    ("What's your booking reference?", "confirmation_ref"),
    ("Can you confirm the email on your account?", "email"),
    ("Which email address did you sign up with?", "email"),
    ("Do you have your order number handy?", "order_number"),
    ("Just need your postcode and we can check coverage.", "postcode"),
    ("We'll need your account number to help.", "account_number"),
    ("Could we get your phone number?", "phone"),
    ("May I have your membership number?", "membership_number"),
    ("What's your loyalty card number?", "membership_number"),
    ("And your customer ID?", "customer_number"),
    ("Tell us your ticket number so we can find it.", "ticket_number"),
    ("Send over your case number please", "ticket_number"),
    ("What's the tracking number on the package?", "tracking_number"),
    ("Pls send ur ph no", "phone"),
    ("Plz share yr e-mail addy", "email"),
    ("What is your o r d e r  n u m b e r?", "order_number"),
    ("What is your o.r.d.e.r number?", "order_number"),
    ("Send us your e-m-a-i-l", "email"),
    ("What's your 0rd3r numb3r?", "order_number"),
    ("What is your \u043erder number?", "order_number"),
    ("Wh\u0430t's y\u043eur \u0435mail?", "email"),
    (f"What is your or{ZW}der num\u200cber?", "order_number"),
    ("What is your or\u00adder num\u00adber?", "order_number"),
    ("What is your or\u200eder num\u200fber?", "order_number"),
    ("What is your or\u2062der number?", "order_number"),
    ("What\u2019s your order number?", "order_number"),
    ("\uff37\uff28\uff21\uff34 \uff29\uff33 \uff39\uff2f\uff35\uff32 "
     "\uff2f\uff32\uff24\uff25\uff32 \uff2e\uff35\uff2d\uff22\uff25\uff32\uff1f", "order_number"),
    ("WHAT IS YOUR ORDER NUMBER?", "order_number"),
    ("Send your acct no. and we'll check", "account_number"),
    ("What's your order id?", "order_number"),
    ("Please tweet us your order number.", "order_number"),
    ("Could you let me know what your email address is?", "email"),
    ("What's your card number? I can check the charge.", "card"),
    ("Please provide the last 4 digits of your card.", "account_number"),
    ("What is your PIN?", "pin"),
    ("Tell us the verification code we just sent you.", "pin"),
    ("What's your mother's maiden name?", "security_answer"),
    ("What is the answer to your security question?", "security_answer"),
    ("Can you post your IMEI?", "device_serial"),
    ("Please share the serial number of your TV.", "device_serial"),
    ("What's your PSN ID?", "username"),
    ("What's your username?", "username"),
    ("What's your gamertag?", "username"),
    ("Leave your number below and we'll call you.", "phone"),
    ("What's your mobile number?", "phone"),
    ("Could you send us your full address, including postcode?", "address"),
    ("Your zip code?", "postcode"),
    ("Email address please.", "email"),
    ("Need your order # to look this up.", "order_number"),
    ("Can I grab your e-mail real quick?", "email"),
    ("Could you confirm your date of birth for us?", "date_of_birth"),
    ("We'd like to have your booking reference.", "confirmation_ref"),
    ("Would you be able to send through your account number?", "account_number"),
    ("Hit us with your order number and we'll dig in.", "order_number"),
    ("Share your reservation number with us here.", "confirmation_ref"),
    ("Do you have an order number you can share?", "order_number"),
    ("Please comment your email and we'll reach out.", "email"),
    ("Can we have your phone number to call you back?", "phone"),
    ("Found your order number? Drop it below.", "order_number"),
    ("Please include your order number in your reply.", "order_number"),
    ("Got a tracking number? Post it here.", "tracking_number"),
    ("What's your shipping address?", "address"),
    ("What's your billing zip?", "postcode"),
    ("What is the email address associated with your account?", "email"),
    ("Please give us your policy number.", "customer_number"),
    ("What's your social security number?", "account_number"),
    ("What's the e mail you used?", "email"),
    ("What's your D.O.B?", "date_of_birth"),
    ("Send us ur passwd so we can log in and fix it", "password"),
    ("What's your customer number and postcode?", "postcode"),
    # a private channel in another sentence or clause does not excuse the ask
    ("Could you tell us your order number? We'll DM you once it ships.", "order_number"),
    ("What is your order number? We'll DM you once it ships.", "order_number"),
    ("Please post your e-mail address here so we can update the form.", "email"),
    ("We got your DM yesterday. Could you post your order number here?", "order_number"),
    ("We got your direct message yesterday, thanks. Meanwhile, could you post it here in "
     "the thread for everyone: what is your order number?", "order_number"),
    ("Send us your order number and we'll follow up by DM.", "order_number"),
    ("You'll need to send us your order number.", "order_number"),
    ("Kindly advise your order number.", "order_number"),
    ("Please quote your booking reference.", "confirmation_ref"),
    ("Please state your full name and date of birth.", "date_of_birth"),
    ("Could you spell out your email for me?", "email"),
    ("What's your acc't #?", "account_number"),
    ("Whats ur email", "email"),
    ("Hi! Sorry about that. What's the ZIP code there?", "postcode"),
    ("Share the serial number of your laptop for further assistance.", "device_serial"),
    ("Don't worry, just reply with your order number.", "order_number"),
    ("Don't forget to include your order number!", "order_number"),
    ("Hey there ^JD\nWhat's your e-mail?", "email"),
    ("Can u send ur ordr no pls", "order_number"),
    ("What's your 3m4il?", "email"),
    ("Please send your ORDER\u00a0NUMBER.", "order_number"),
    ("What's the phone number on your account?", "phone"),
    ("Could you verify your email address for us?", "email"),
    ("Please type your order number below.", "order_number"),
    ("Can you post a screenshot showing your order number?", "order_number"),
    ("Please provide the following: full name, email, phone number.", "phone"),
    ("We're going to need the email address on file.", "email"),
    ("Please let us have your account number.", "account_number"),
    ("Could you remind me of your order number?", "order_number"),
    ("Order number?", "order_number"),
    ("And the phone number?", "phone"),
    ("Reply back with your order #", "order_number"),
    ("Hiya! Can u pop ur postcode in a reply?", "postcode"),
    ("Could you confirm the last 4 digits of your phone number?", "account_number"),
    ("Pls reply w/ ur order no", "order_number"),
    ("Gimme your order number and I'll check.", "order_number"),
    ("Please tag us with your order number.", "order_number"),
    ("Could you answer your security question here?", "security_answer"),
    ("Please reply with the 6-digit code we texted you.", "pin"),
    ("Send ur deets: order # and email.", "email"),
    ("Tell me ur fone number", "phone"),
    ("Please share your full card number so we can find the charge.", "card"),
    ("What's the card's expiry date and CVV?", "card"),
    ("Before we can refund, we'll need your bank details.", "account_number"),
    ("What's your frequent flyer number?", "membership_number"),
    ("Your e-mail address would help us find your account.", "email"),
    ("Can I have your name and phone number please?", "phone"),
    ("D0 y0u hav3 y0ur 3-mail addr3ss handy?", "email"),
    ("C0uld w3 g3t y0ur acct n0.?", "account_number"),
    ("Mind sharing y0ur h0m3 addr3ss?", "address"),
    ("What's your e​-​m​a​i​l?", "email"),
    ("Whаt іs yоur pаsswоrd?", "password"),
    ("What is your οrder number?", "order_number"),
    ("Please send the confirmation number and we'll look.", "confirmation_ref"),
]


def _violations(text: str) -> list[Ask]:
    return [a for a in find_asks(text) if not a.excused]


@pytest.mark.parametrize(("text", "category"), PUBLIC_ASKS)
def test_public_asks_are_found(text: str, category: str) -> None:
    asks = _violations(text)
    assert asks, text
    assert category in {a.category for a in asks}, (text, asks)
    for a in asks:
        assert 0 <= a.start < a.end <= len(text)


# -- texts that must not yield an ask that is not excused -------------------------------------

NOT_VIOLATIONS: list[str] = [
    # asked via a private channel
    "Please DM us your order number.",
    "Could you send your order number in a direct message?",
    "Please send us a private message with your e-mail address.",
    "Can you share your phone number privately?",
    "Please send your address through our secure form.",
    "Sorry about this! Please send us a direct message with your order number and we'll look "
    "into it right away.",
    "Send a DM our way with your account number and we'll take a look. ^JD",
    "Feel free to DM us your confirmation number.",
    "Please fill out the form at https://example.com/help with your order number.",
    "Please reach out via DM with your tracking number.",
    "Shoot us a DM with your e-mail and zip code.",
    "Could you DM us your full name and e-mail address?",
    "Please D.M. us your order no.",
    "Send us your order number via private message, please.",
    "Please submit a ticket with your account details at https://example.com/support.",
    "We'd love to help! Please DM us. Include your order number and zip code.",
    "Slide into our DMs with your order number!",
    "Please send us an email at https://example.com/contact and include your order number.",
    "Please share your serial number in a private message.",
    "Can you message us your phone number? We'll call you.",
    "Please use our secure link to share your date of birth: https://example.com/verify",
    "Could you send over your order number privately?",
    "Please send us a DM, we'll need your order number and e-mail.",
    "What's your order number? Reply in DM so we can keep it private.",
    "Please share your contact info here: https://example.com/form and we'll call you.",
    "You can open a ticket at https://example.com/t Please include your gamertag and e-mail.",
    "Please DM us your PIN-free account details: order number and postcode.",
    "Once you have your order number, send it to us via DM.",
    # telling customers not to share
    "Please don't share your card number here.",
    "We will never ask for your password.",
    "Never post your PIN or card number anywhere.",
    "Kindly do not share your order number publicly.",
    "Without revealing your email address, tell us what's going on.",
    "For your safety, don't tweet your account number.",
    "Please do not include your phone number in public replies.",
    "No need to send your order number, we found it.",
    "You don't need to share your e-mail with us.",
    "Please remove the tweet with your email address.",
    "We'll never ask you for your PIN.",
    # explaining where to find it
    "You can find your order number in your confirmation e-mail.",
    "Your order number starts with W and is on your receipt.",
    "Your tracking number is in the shipping e-mail we sent.",
    "Not sure what your order number is? It's in your order history.",
    "To find your serial number, go to Settings > About.",
    "Your account number is printed on your statement.",
    "Check your confirmation e-mail for your booking reference.",
    "Here's how to find your IMEI: dial *#06#.",
    "If you can't find your order number, let us know.",
    "You'll find your membership number on the back of your card.",
    # harmless replies
    "What's your flight number? We'll check the gate for you.",
    "Which store did you visit?",
    "What city are you in?",
    "What model is your TV?",
    "What app version are you on?",
    "What error message do you see?",
    "Can you tell us what happened?",
    "Which store did you visit, and what's the model of the TV?",
    "Restart your phone and try again.",
    "Please update the app on your phone.",
    "Your order has shipped and should arrive on Monday.",
    "We have updated the address of our store on the website.",
    "Thanks! The phone app is available in the store.",
    "Check your email for a confirmation link.",
    "Did you receive a confirmation email from us?",
    "Please send us a screenshot of the error.",
    "Can you tell me the address of that branch?",
    "What's the phone number of the store you visited?",
    "You can reset your password from the login page.",
    "Please verify your email address by clicking the link we sent.",
    "Happy birthday! \U0001f389",
    "What's the make and model of your device?",
    "Could you share a screenshot of the error message?",
    "Which browser are you using?",
    "We're sorry your order is late. Let us know if there's anything else.",
    "Tell us more about what's going on with your account.",
    "Mind sharing your channel URL with us?",
    "Please try clearing your cache and cookies, then sign in to your account again.",
    "Have you tried turning it off and on again?",
    "Send us an email at https://example.com/contact and we will assist. ^JR",
    "Call us at 1-800-555-0199 for help.",
    "Your refund was issued to your original payment method.",
    "Turn off the eco timer in the power settings.",
    "We've sent a new verification code to your phone.",
    "What's your favourite feature so far?",
    "Please make sure your phone number is up to date in your account settings.",
    "What browser and operating system are you on?",
    "Is the issue happening on your phone or your computer?",
    "Let us know if that helps! ^AK",
    "Which city is your order shipping to?",
    "How many items were in your order?",
    "What was the error code?",
    "Could you tell us which store and city?",
    "Your tracking link is in the email we sent you.",
    "If your card was charged twice, the extra hold will drop off in 3-5 days.",
    "Can you confirm which game you purchased?",
    "We've located your DM and replied there.",
    "Would you mind sending over a screenshot of the e-mail in question?",
    "Did you follow the steps in the email we sent you?",
    "You can update your e-mail address in Settings > Account.",
    "Who's the carrier on your order?",
    "Our store's phone number is on the website.",
    "Give us a shout if you need anything else!",
    "We'll send your tracking number by e-mail once it ships.",
    "I'll share your feedback with the team.",
    "Try logging in with your Apple ID on another device.",
    "What's the order status page showing?",
    "It looks like your account was locked after too many password attempts.",
    "Please verify your email address by clicking the link we sent.",
    "Please enter your PIN at the terminal as usual.",
    "Mind DMing your order number?",
    "Please DM us the following: your full name, e-mail and zip.",
    "Please share your contact info here: https://example.com/form and we'll call you.",
    "Have you updated the app on your phone?",
    "You'll need your order number and e-mail to start a return online.",
    "Keep your confirmation number handy when you call.",
    "Your PIN will be mailed to your home address.",
    "We mailed the card to the address on file.",
    "Which phone do you have?",
    "What phone are you using?",
    "What happens when you try to sign in with your Apple ID?",
    "Did the verification code arrive on your phone?",
    "Have you received the confirmation email for your booking?",
    "If you didn't get a tracking number, the seller may not have shipped yet.",
    "Double-check that the billing address matches the one on your card.",
    "Great question! The PIN is set when you activate the card in the app.",
    "What's the model number of your printer?",
    "Please let us know your flight number and we'll check the status.",
    "Please tell us the exact wording of the error message.",
    "Enter the code we sent you in the app to continue.",
    "Please answer a few questions about your order.",
    "Could you share a screenshot of the e-mail you're getting?",
    "Send a DM our way with any other questions. ^CO",
    "Pl3as3 s3nd y0ur 3mail thr0ugh 0ur s3cur3 f0rm.",
    "N0 n33d t0 s3nd y0ur card numb3r.",
    "Please D​M us your оrder number.",
    "What is your order number? Reply in DM so we can keep it private.",
    "Please send us your order number via DM. And your e-mail, please.",
    "",
]


@pytest.mark.parametrize("text", NOT_VIOLATIONS)
def test_no_unexcused_ask(text: str) -> None:
    assert _violations(text) == [], text


# more public asks and fine texts, written in the styles of real replies (any category)
MORE_ASKS: list[str] = [
    'Hey there! Could you pop your order number in here so we can take a look?',
    'Sorry to hear that, Sam. What email address did you use when ordering?',
    "We'd be glad to check on this. Can you send the tracking number over?",
    "Thanks for flagging! Please share the account number and we'll look into it.",
    "Ugh, that's not good. Mind tweeting us your booking reference?",
    "Happy to help! What's your postcode so we can check local stock?",
    'We can look up your order if you tell us your phone number.',
    "To find your booking we'll need your surname and booking reference.",
    'So sorry! Can you list your order number and email here?',
    'Please reply to this thread with the phone number on your account.',
    "Sure thing. Send the last four digits of your card and we'll check the charge.",
    "Just to confirm, is your email still the gmail one? What's the address?",
    'Can you confirm your DOB and postcode please?',
    'Hi Ana, please post your full address so the courier can re-deliver.',
    "Drop us your order # and we'll chase the courier.",
    'Please share a photo of your receipt showing the order number.',
    "Let's get this sorted: what's your customer number?",
    'Could you tell me the serial number on the back of the device?',
    'We just need your IMEI to check the warranty.',
    'Can you please give me your username so I can find your profile?',
    'What is the security answer you set up?',
    "Tell me the PIN you use for the app and I'll unlock it.",
    "Post your card number and expiry and we'll refund you.",
    'Please comment with your ticket number.',
    'What zip code are you in?',
    'Which phone number is linked to your account?',
    "Give us your email and we'll send a new link.",
    'Could you kindly share your membership ID?',
    'When you get a sec, reply with your confirmation code.',
    "First, what's your order number? Second, which store?",
    'Could u drop ur e-mail below pls',
    "Oh no! What's the order # on your receipt?",
    'Can we grab the email tied to your account?',
    "Shoot us your order number and we'll sort it.",
    "Send your address and we'll get a replacement out.",
    'Please let me know your account no.',
    "We'd need your date of birth to verify the account.",
    'Do you happen to have the tracking number?',
    'What mobile number did you register with?',
    "What's ur postcode hun?",
    "Ping us your reservation number and we'll check.",
    "Quick q: what's the email on the order?",
    "Please post ur phone # and we'll call u back",
    'Could you provide the card number you used?',
    "What's the IMEI on the box?",
    'Please reply with your Apple ID.',
    'We need your password to log in and check.',
    'Can you share your one-time code?',
    'Would you share your address so we can send a new one?',
    'Please give us your booking ref and surname.',
    "What's the name and address on the account?",
    'I need your order number to look into this.',
    "Tell us your membership no. and we'll add the points.",
    'Can you confirm the billing postcode?',
    'Which e-mail should we use to reach you?',
    'Please list the serial numbers of the affected units.',
    'Could you give me your zip?',
    "Post the tracking # and we'll chase it.",
    'Kindly reply with your contact number.',
]

MORE_FINE: list[str] = [
    "We've sent you a DM so we can look into this privately.",
    "Please DM us your order number and we'll chase the courier.",
    'Could you send us a DM with the e-mail address on the account?',
    "Please don't share any personal info like your address here.",
    'Your order number is on the packing slip.',
    'Check your inbox for an e-mail with your tracking link.',
    'Which store did you buy it from?',
    "What's the model of your washing machine?",
    'Is the app up to date on your phone?',
    'Tell us a bit more about what happened.',
    'Can you share a screenshot of the error, without personal details?',
    'Please send us a direct message with your booking reference and surname.',
    "We'll never ask for your PIN or password.",
    'Click the link in the e-mail we sent to verify your address.',
    "The store's phone number is 020 7946 0000.",
    'You can update your phone number in the app under Profile.',
    'Which city are you flying from?',
    "What's your flight number? We'll check for delays.",
    'Sorry about the wait! The team is looking into it now.',
    'Please avoid posting your order number publicly.',
    'Happy to help via DM: send us your order number there.',
    "We can't access accounts over Twitter, please call us on 0800 123 456.",
    'What browser are you using?',
    "If you'd like, you can DM us your e-mail and we'll take a look.",
    'Let us know if the issue happens on other devices too.',
    'Head to our help page to find your order number.',
    "Don't worry, no need to send us your card details.",
    'What version of the app do you have?',
    'Please use our secure form to send us your account details: https://example.com/secure',
    'Which address do you want us to post it to? Send it via DM please.',
    'Please DM your e-mail address to us.',
    'Could you send the order number over DM?',
    "We've replied to your DM.",
    'Please keep your card number private.',
    'Your tracking number is in the dispatch e-mail.',
    'Which shop did you visit?',
    'What size did you order?',
    'Reply with a photo of the damaged item.',
    'Tell us which model you have.',
    "Send us a DM and we'll take it from there.",
    "We'd never ask for your password in a DM or anywhere else.",
    "For security reasons, please don't share your date of birth here.",
    "You'll find your booking reference at the top of your confirmation e-mail.",
    'Please message us privately with your postcode.',
    'The order number starts with 112 and has 17 digits.',
    'Is it the 64GB or 128GB model?',
    'What time did you try to check in?',
    "Drop us a DM with your order number and we'll dig in.",
    'Could you send a private message with your account details?',
    "We'll e-mail you a return label.",
    'Please do not post your address in this thread.',
    'Check your e-mail for the order confirmation.',
    'What device are you streaming on?',
    'You can track your parcel with the link in your e-mail.',
    'Please submit your details via our contact form: https://example.com/contact',
    'Thanks, we got your e-mail and replied.',
    'Which payment method did you use?',
    'Please DM us so we can verify your account.',
    'We have your details on file, no need to send them again.',
    "What's the best time to reach you? We'll call the number on your account.",
]


@pytest.mark.parametrize("text", MORE_ASKS)
def test_more_public_asks_are_found(text: str) -> None:
    assert _violations(text), text


@pytest.mark.parametrize("text", MORE_FINE)
def test_more_fine_texts_pass(text: str) -> None:
    assert _violations(text) == [], text


def test_flags_say_why_an_ask_is_fine() -> None:
    (a,) = find_asks("Please DM us your order number.")
    assert a.private_channel and not a.negated and not a.where_to_find and a.excused
    (a,) = find_asks("Please don't share your card number here.")
    assert a.negated and a.category == "card" and a.secret
    (a,) = find_asks("We will never ask for your password.")
    assert a.negated and a.category == "password"
    (a,) = find_asks("Not sure what your order number is? It's in your order history.")
    assert a.where_to_find
    for text in ("You can find your order number in your confirmation e-mail.",
                 "Your order number starts with W."):
        (a,) = find_asks(text)
        assert a.where_to_find and a.excused and a.category == "order_number"
    (a,) = find_asks("What is your order number?")
    assert not a.excused and a.category == "order_number"
    text = "What is your order number?"
    assert text[a.start : a.end] == "order number"


def test_secret_asks_are_secret_even_in_private() -> None:
    asks = find_asks("Please DM us your PIN and card number so we can verify you.")
    assert {a.category for a in asks} == {"pin", "card"}
    assert all(a.private_channel and a.secret and not a.negated for a in asks)
    (a,) = find_asks("Please DM us the last 4 digits of your card.")
    assert a.partial and not a.secret and a.category == "account_number"
    (a,) = find_asks("Can you send us your passw0rd via DM?")
    assert a.category == "password" and a.secret


def test_lists_of_data_are_each_an_ask() -> None:
    cats = {a.category for a in _violations("Please reply with your order number, e-mail and zip.")}
    assert cats == {"order_number", "email", "postcode"}
    cats = {a.category for a in find_asks("DM us your registered email/full name/zip")}
    assert cats == {"email", "postcode"}


def test_ask_offsets_point_at_obfuscated_original() -> None:
    text = "Wh\u0430t's y\u043eur o.r.d.e.r  n\u200bo.?"
    (a,) = find_asks(text)
    assert text[a.start : a.end].startswith("o.r.d.e.r")


def test_categories_and_dataclasses() -> None:
    assert len(CATEGORIES) == 18 and SECRETS == {"pin", "password", "security_answer", "card"}
    assert {c for _, c in PUBLIC_ASKS} <= set(CATEGORIES)
    a = Ask("email", 0, 5)
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.category = "phone"  # type: ignore[misc]
    f = Found("email", 0, 5, "a@b.c")
    with pytest.raises(dataclasses.FrozenInstanceError):
        f.value = "x"  # type: ignore[misc]


def test_own_figures_on_the_tables() -> None:
    """Recall on the public asks and the share of fine texts allowed (both must be 100%)."""
    asks = [text for text, _ in PUBLIC_ASKS] + MORE_ASKS
    fine = NOT_VIOLATIONS + MORE_FINE
    caught = sum(1 for text in asks if _violations(text))
    allowed = sum(1 for text in fine if not _violations(text))
    assert caught == len(asks) >= 80
    assert allowed == len(fine) >= 80


# -- the data itself --------------------------------------------------------------------------

DATA: list[tuple[str, list[tuple[str, str]]]] = [
    # e-mail
    ("We've updated your e-mail to jane.doe@example.com.", [("email", "jane.doe@example.com")]),
    ("Mail me: Sam_O'Neil+care@mail.example.co.uk thanks",
     [("email", "Sam_O'Neil+care@mail.example.co.uk")]),
    ("Forward it to support@example.com please", []),  # a role address is the brand's
    ("user@localhost and a@b are not addresses", []),
    ("Ping @TeamHelp or @Jane_Doe", []),
    # phones
    ("Call me on +44 20 7946 0958 please", [("phone", "+44 20 7946 0958")]),
    ("my cell is (415) 555-2671", [("phone", "(415) 555-2671")]),
    ("ring 020 7946 0958 after 5", [("phone", "020 7946 0958")]),
    ("text me at 07911 123456", [("phone", "07911 123456")]),
    ("+1 212-736-5000 is my number", [("phone", "+1 212-736-5000")]),
    ("reach me on 0044 20 7946 0958", [("phone", "0044 20 7946 0958")]),
    ("Call us free on 1-800-848-9136 for help.", []),  # toll-free: a business line
    ("It cost $1,234.56 on 2020-04-01 at 12:30.", []),
    ("Update to version 10.2.3 build 4471", []),
    ("Use code 1234567 at checkout", []),
    ("Scores were 2 3 4 5 6 7 8 today", []),
    # cards
    ("My card is 4111 1111 1111 1111", [("card", "4111 1111 1111 1111")]),
    ("card 5555-5555-5555-4444 declined", [("card", "5555-5555-5555-4444")]),
    ("amex 3782 822463 10005", [("card", "3782 822463 10005")]),
    ("card 4111 1111 1111 1112 (a typo)", []),  # Luhn-invalid
    ("code 1234 5678 9012 3456", []),  # Luhn-invalid, no issuer
    ("ref 1234 5678", [("confirmation_ref", "1234")]),
    ("Your card ending in 4242 was charged.", [("card", "4242")]),
    ("charged to xxxx-xxxx-xxxx-1881", [("card", "1881")]),
    ("the last 4 digits are 9876", [("card", "9876")]),
    # tracking numbers
    ("Your parcel 1Z999AA10123456784 is out for delivery today.",
     [("tracking_number", "1Z999AA10123456784")]),
    ("UPS 1Z12345E0205271688 too", [("tracking_number", "1Z12345E0205271688")]),
    ("1ZABCDEFGHIJKLMNOP is not a parcel", []),
    ("USPS 9400 1118 9922 3855 1917 18 delivered",
     [("tracking_number", "9400 1118 9922 3855 1917 18")]),
    ("USPS 9400 1000 0000 0000 0000 00 shipped", [("tracking_number",
                                                  "9400 1000 0000 0000 0000 00")]),
    ("code 9100 1118 9922 3855 1917 19 here", []),  # 22 digits, 91…, wrong check digit
    ("Royal Mail RB473829103GB is on its way", [("tracking_number", "RB473829103GB")]),
    ("EMS EA123456785US", [("tracking_number", "EA123456785US")]),
    ("Royal Mail AB123456789GB", [("tracking_number", "AB123456789GB")]),
    ("code ab123456789cd", []),  # not S10: no valid check digit, not GB/US
    ("FedEx 123456789012 arrives Monday", [("tracking_number", "123456789012")]),
    ("DHL 1234567890 was scanned", [("tracking_number", "1234567890")]),
    ("Amazon TBA123456789000 delivered", [("tracking_number", "TBA123456789000")]),
    ("tracking number: 7Q2X99ZZ31", [("tracking_number", "7Q2X99ZZ31")]),
    # labelled identifiers
    ("Your order #W123456789 shipped yesterday.", [("order_number", "W123456789")]),
    ("My order 112-7788123-4455 never arrived", [("order_number", "112-7788123-4455")]),
    ("order #123-456789", [("order_number", "123-456789")]),
    ("booking ref ABC123", [("confirmation_ref", "ABC123")]),
    ("confirmation code: QWERTY", [("confirmation_ref", "QWERTY")]),
    ("see the booking ref abcdef", []),  # a lowercase word is not a PNR
    ("acct no. 12345678 is mine", [("account_number", "12345678")]),
    ("case number 01234567", [("ticket_number", "01234567")]),
    ("my customer id is CU-99812", [("customer_number", "CU-99812")]),
    ("member # 5512340", [("membership_number", "5512340")]),
    ("Your order is 3 days late", []),
    ("order 2 of 3 arrived", []),
    ("Flight BA117 leaves from gate 22.", []),
    ("The 55 inch model supports 120Hz.", []),
    ("Store #1234 in Springfield", []),
    ("Error code 0x80070005 again", []),
    # addresses, postcodes, dates of birth
    ("Send it to 221B Baker Street please", [("address", "221B Baker Street")]),
    ("I'm at 123 Main St, Springfield, IL 62704",
     [("address", "123 Main St"), ("postcode", "62704")]),
    ("zip 90210", [("postcode", "90210")]),
    ("my postcode is SW1A 1AA", [("postcode", "SW1A 1AA")]),
    ("It's a 5 min drive away", []),
    ("Turn on 2 step verification", []),
    ("Why isn't there an easy, 1 click way to do this", []),
    ("DOB: 01/02/1990", [("date_of_birth", "01/02/1990")]),
    ("my date of birth is 3 March 1985", [("date_of_birth", "3 March 1985")]),
    ("Born in the 90s", []),
    # devices, secrets
    ("IMEI 490154203237518", [("device_serial", "490154203237518")]),
    ("serial number: C02XK1ABJG5H", [("device_serial", "C02XK1ABJG5H")]),
    ("username: gamer_jane", [("username", "gamer_jane")]),
    ("password: hunter2", [("password", "hunter2")]),
    ("it says my password is wrong", []),
    ("my pin is 4821", [("pin", "4821")]),
    ("Your new number 07700 900123 is active", [("phone", "07700 900123")]),  # fictional
    ("the old number ending in 1237 still gets texts", [("phone", "1237")]),
    ("username jsmith_1987 was locked", [("username", "jsmith_1987")]),
    ("Shipping to 4 Rue de Rivoli, 75004 Paris", [("address", "4 Rue de Rivoli"),
                                                  ("postcode", "75004")]),
    ("Ich wohne in der Hauptstraße 5", [("address", "Hauptstraße 5")]),
    ("Send it via Email 2 times", []),
    # real URLs with numbers are not data
    ("See https://example.com/web/20200401224734/https://help.example.com/a/1234567890", []),
]


@pytest.mark.parametrize(("text", "expected"), DATA)
def test_find_private_data(text: str, expected: list[tuple[str, str]]) -> None:
    found = find_private_data(text)
    assert [(f.category, f.value) for f in found] == expected, text
    for f in found:
        assert text[f.start : f.end] == f.value


def test_data_in_obfuscated_text_keeps_original_offsets() -> None:
    text = "Ｍｙ ｅｍａｉｌ：\u200bjane@example.com и 4111\u00a01111 1111 1111"
    found = find_private_data(text)
    assert [f.category for f in found] == ["email", "card"]
    assert found[0].value == "jane@example.com"
    assert found[1].value == "4111\u00a01111 1111 1111"


# -- redaction --------------------------------------------------------------------------------

REDACT = [
    ("Your order #W123456789 shipped.", "Your order #[order number] shipped."),
    ("Mail jane.doe@example.com or call +44 20 7946 0958",
     "Mail [e-mail] or call [phone]"),
    ("My card 4111 1111 1111 1111 was declined", "My card [card ending 1111] was declined"),
    ("Your card ending in 4242 was charged.", "Your card ending in [card digits] was charged."),
    ("My number ending in 1237", "My number ending in [phone digits]"),
    ("Send it to 221B Baker Street please", "Send it to [address] please"),
    ("Parcel 1Z999AA10123456784 is late", "Parcel [tracking number] is late"),
    ("Nothing private here.", "Nothing private here."),
]


@pytest.mark.parametrize(("text", "expected"), REDACT)
def test_redact(text: str, expected: str) -> None:
    assert redact(text) == expected
    assert redact(text, find_private_data(text)) == expected


def test_redact_with_given_findings_and_overlaps() -> None:
    text = "abc 123 def"
    found = [Found("order_number", 4, 7, "123"), Found("phone", 5, 9, "23 d")]
    assert redact(text, found) == "abc [order number] def"
    assert redact(text, []) == text


# -- adversarial inputs: nothing catastrophic at the longest message (4,096 characters) -------

ADVERSARIAL = {
    "digits": "1" * 4096,
    "digits spaced": "1 " * 2048,
    "digits dashed": "1-" * 2048,
    "at signs": "@" * 4096,
    "letters": "a" * 4096,
    "a@": "a@" * 2048,
    "a.": "a." * 2048,
    "x@y.": "x@y." * 1024,
    "long local part": "a" * 4000 + "@example.com",
    "long domain": "a@" + "b." * 2040 + "com",
    "your your": "your " * 819,
    "order number": "your order number " * 227,
    "what is your": "what is your " * 315,
    "spaced letters": "a b " * 1024,
    "dotted letters": "a.b." * 1024,
    "leet": "0rd3r " * 682,
    "zero width": "\u200b" * 4096,
    "fullwidth": "\uff41" * 4096,
    "cyrillic": "\u043e" * 4096,
    "combining": "e\u0301" * 2048,
    "cards": "4111 " * 819,
    "plus": "+1 " * 1365,
    "parens": "(" * 4096,
    "1z": "1z" * 2048,
    "dm": "dm " * 1365,
    "dots": "." * 4096,
    "newlines": "\n" * 4096,
    "hashes": "#" * 4096,
    "street": "1 a st " * 585,
    "dm us your": "dm us your order number and " * 146,
    "do not": "don't " * 682,
    "mixed": ("What's ur 0rd3r #? DM us. " * 160)[:4096],
    "urls": ("https://example.com/" + "a" * 100 + " ") * 33,
    "emails": "john.doe@example.com " * 195,
    "phones": "+44 20 7946 0958 " * 240,
    "many sentences": ("What's your order number? " * 160)[:4096],
    "many private asks": ("Please DM us your e-mail. " * 160)[:4096],
    "lists": ("your order number, e-mail, zip and " * 120)[:4096],
    "pronouns": "send it " * 512,
    "labels": ("order #123456 " * 292)[:4096],
    "secret labels": ("password: abc123 " * 240)[:4096],
    "address tails": "1 Main St" + ", a" * 1360,
    "dates and prices": ("2020-04-01 $1,234.56 " * 195)[:4096],
    "ups": ("1Z999AA10123456784 " * 215)[:4096],
}


@pytest.mark.parametrize("name", sorted(ADVERSARIAL))
def test_adversarial_inputs_are_fast(name: str) -> None:
    """A generous bound that guards against catastrophic backtracking (the speed goals
    proper, ~5 ms here, are measured by the benchmark, not asserted)."""
    text = ADVERSARIAL[name]
    assert len(text) <= 4200
    for fn in (normalize, find_asks, find_private_data, redact):
        best = float("inf")
        for _ in range(2):  # the better of two runs: one scheduling hiccup is not a failure
            clear_cache()  # measure the work, not the cache
            t0 = time.perf_counter()
            fn(text)  # type: ignore[operator]
            best = min(best, time.perf_counter() - t0)
        assert best < 0.05, f"{name}: {fn.__name__} took {best * 1000:.1f} ms"


def _corpus_replies() -> list[str]:
    """The real brand replies of ../shared/corpus (read at run time, never copied here)."""
    root = Path(os.environ.get("HELPFORCE_CORPUS", Path(__file__).resolve().parents[2]
                               / "shared" / "corpus"))
    texts: list[str] = []
    for name in ("dev.json", "test.json"):
        path = root / "ibm-cdp" / name
        if not path.exists():
            continue
        for item in json.loads(path.read_text(encoding="utf-8")):
            texts.extend(t["message"] for t in item["dialogContent"] if "agent" in t)
            texts.append(item["agentURL"]["url_utterance"])
    return texts


def test_real_brand_replies_are_handled_consistently() -> None:
    """Every real reply goes through without error, offsets point into the text, and almost
    none asks for private data in public (the few that do are real asks)."""
    texts = _corpus_replies()
    if not texts:
        pytest.skip("the shared corpus is not here")
    asking = 0
    for text in texts:
        asks = find_asks(text)
        for a in asks:
            assert 0 <= a.start < a.end <= len(text) and a.category in CATEGORIES
        asking += any(not a.excused for a in asks)
        found = find_private_data(text)
        for f in found:
            assert text[f.start : f.end] == f.value
        masked = redact(text, found)
        assert (masked == text) == (not found)
    assert asking <= len(texts) * 0.02


def test_long_input_is_scanned_up_to_the_limit_only() -> None:
    text = "x" * 5000 + " What is your order number? jane@example.com"
    assert find_asks(text) == []
    assert find_private_data(text) == []
    text = "What is your order number? jane@example.com " + "x" * 5000
    assert find_asks(text) and find_private_data(text)
