/* Unit tests for shared/mail/dsn.c: an RFC 3464 report from Postfix (folded
 * diagnostic, Original-Recipient only, delayed), the plain-text bounces of
 * Postfix, Exim, Gmail and Microsoft, and inputs that must find nothing.
 * The same messages seed tests/fuzz/corpus/dsn/. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mail/dsn.h"

static const char rfc3464_msg[] =
    "From: MAILER-DAEMON@mx.example.net (Mail Delivery System)\r\n"
    "Subject: Undelivered Mail Returned to Sender\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/report; report-type=delivery-status;\r\n"
    "\tboundary=\"ABC123.1700000000/mx.example.net\"\r\n"
    "\r\n"
    "--ABC123.1700000000/mx.example.net\r\n"
    "Content-Description: Notification\r\n"
    "Content-Type: text/plain; charset=us-ascii\r\n"
    "\r\n"
    "This is the mail system at host mx.example.net.\r\n"
    "\r\n"
    "--ABC123.1700000000/mx.example.net\r\n"
    "Content-Description: Delivery report\r\n"
    "Content-Type: message/delivery-status\r\n"
    "\r\n"
    "Reporting-MTA: dns; mx.example.net\r\n"
    "X-Postfix-Queue-ID: ABC123\r\n"
    "Arrival-Date: Tue, 14 Nov 2023 22:13:20 +0000 (UTC)\r\n"
    "\r\n"
    "Final-Recipient: rfc822; nobody@example.net\r\n"
    "Original-Recipient: rfc822;Nobody@Example.NET\r\n"
    "Action: failed\r\n"
    "Status: 5.1.1\r\n"
    "Remote-MTA: dns; mx2.example.net\r\n"
    "Diagnostic-Code: smtp; 550 5.1.1 <nobody@example.net>: Recipient "
    "address\r\n"
    "    rejected: User unknown in virtual mailbox table\r\n"
    "\r\n"
    "Original-Recipient: rfc822; late@example.org\r\n"
    "Action: Delayed\r\n"
    "Status: 4.4.1 (connection timed out)\r\n"
    "\r\n"
    "--ABC123.1700000000/mx.example.net\r\n"
    "Content-Description: Undelivered Message Headers\r\n"
    "Content-Type: text/rfc822-headers\r\n"
    "\r\n"
    "From: a@b\r\n"
    "\r\n"
    "--ABC123.1700000000/mx.example.net--\r\n";

static const char postfix_msg[] =
    "From: MAILER-DAEMON@mx.example.net\n"
    "Subject: Undelivered Mail Returned to Sender\n"
    "\n"
    "This is the mail system at host mx.example.net.\n"
    "\n"
    "I'm sorry to have to inform you that your message could not\n"
    "be delivered to one or more recipients.\n"
    "\n"
    "                   The mail system\n"
    "\n"
    "<gone@example.net>: host mx2.example.net[192.0.2.7] said: 550 5.1.1\n"
    "    <gone@example.net>: Recipient address rejected: User unknown (in "
    "reply to\n"
    "    RCPT TO command)\n"
    "\n"
    "<full@example.net>: host mx2.example.net[192.0.2.7] said: 452 4.2.2 "
    "Mailbox\n"
    "    full (in reply to RCPT TO command)\n";

static const char exim_msg[] =
    "From: Mail Delivery System <Mailer-Daemon@mx.example.org>\n"
    "Subject: Mail delivery failed: returning message to sender\n"
    "\n"
    "This message was created automatically by mail delivery software.\n"
    "\n"
    "A message that you sent could not be delivered to one or more of its\n"
    "recipients. This is a permanent error. The following address(es) failed:\n"
    "\n"
    "  someone@example.org\n"
    "    host mx.example.org [192.0.2.9]\n"
    "    SMTP error from remote mail server after RCPT "
    "TO:<someone@example.org>:\n"
    "    550 5.1.1 User unknown\n"
    "  other@example.org\n"
    "    Unrouteable address\n"
    "\n"
    "------ This is a copy of the message, including all the headers. ------\n"
    "From: x@y.example\n";

static const char gmail_msg[] =
    "From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>\n"
    "Subject: Delivery Status Notification (Failure)\n"
    "Content-Type: text/plain; charset=\"UTF-8\"\n"
    "\n"
    "** Address not found **\n"
    "\n"
    "Your message wasn't delivered to missing@gmail.com because the address "
    "couldn't be found, or is unable to receive mail.\n"
    "\n"
    "Learn more here: https://support.google.com/mail/?p=NoSuchUser\n"
    "\n"
    "The response from the remote server was:\n"
    "550 5.1.1 The email account that you tried to reach does not exist. "
    "Please try\n"
    "double-checking the recipient's email address for typos or unnecessary "
    "spaces.\n";

static const char microsoft_msg[] =
    "From: postmaster@outlook.com\n"
    "Subject: Undeliverable: hello\n"
    "\n"
    "Delivery has failed to these recipients or groups:\n"
    "\n"
    "nobody@contoso.com (nobody@contoso.com)\n"
    "The email address you entered couldn't be found.\n"
    "\n"
    "Diagnostic information for administrators:\n"
    "\n"
    "Generating server: BN6PR.namprd.prod.outlook.com\n"
    "\n"
    "nobody@contoso.com\n"
    "Remote Server returned '550 5.1.10 RESOLVER.ADR.RecipientNotFound; "
    "Recipient not found by SMTP address lookup'\n";

static ps_dsn *parse(const char *msg, int want)
{
    static ps_dsn d; /* large: keep it off the stack */
    ps_err err = {""};
    assert_int_equal(ps_dsn_parse(msg, strlen(msg), &d, &err), want);
    if (want < 0)
        assert_true(err.msg[0] != '\0');
    return &d;
}

static void rcpt(const ps_dsn *d, size_t i, const char *addr,
                 const char *action, const char *status, const char *diag)
{
    assert_true(i < d->n);
    assert_string_equal(d->rcpt[i].recipient, addr);
    assert_string_equal(d->rcpt[i].action, action);
    assert_string_equal(d->rcpt[i].status, status);
    assert_non_null(strstr(d->rcpt[i].diagnostic, diag));
}

static void test_rfc3464(void **state)
{
    (void)state;
    ps_dsn *d = parse(rfc3464_msg, 0);
    assert_int_equal(d->source, PS_DSN_RFC3464);
    assert_string_equal(ps_dsn_source_name(d->source), "rfc3464");
    assert_int_equal(d->n, 2);
    rcpt(d, 0, "nobody@example.net", "failed", "5.1.1",
         "550 5.1.1 <nobody@example.net>: Recipient address rejected: User "
         "unknown in virtual mailbox table");
    rcpt(d, 1, "late@example.org", "delayed", "4.4.1", "");
}

static void test_postfix(void **state)
{
    (void)state;
    ps_dsn *d = parse(postfix_msg, 0);
    assert_int_equal(d->source, PS_DSN_POSTFIX);
    assert_int_equal(d->n, 2);
    rcpt(d, 0, "gone@example.net", "failed", "5.1.1",
         "User unknown (in reply to RCPT TO command)");
    rcpt(d, 1, "full@example.net", "delayed", "4.2.2", "Mailbox full");
}

static void test_exim(void **state)
{
    (void)state;
    ps_dsn *d = parse(exim_msg, 0);
    assert_int_equal(d->source, PS_DSN_EXIM);
    assert_int_equal(d->n, 2);
    rcpt(d, 0, "someone@example.org", "failed", "5.1.1",
         "550 5.1.1 User unknown");
    rcpt(d, 1, "other@example.org", "failed", "", "Unrouteable address");
}

static void test_gmail(void **state)
{
    (void)state;
    ps_dsn *d = parse(gmail_msg, 0);
    assert_int_equal(d->source, PS_DSN_GMAIL);
    assert_int_equal(d->n, 1);
    rcpt(d, 0, "missing@gmail.com", "failed", "5.1.1",
         "550 5.1.1 The email account that you tried to reach does not exist.");
}

static void test_microsoft(void **state)
{
    (void)state;
    ps_dsn *d = parse(microsoft_msg, 0);
    assert_int_equal(d->source, PS_DSN_MICROSOFT);
    assert_int_equal(d->n, 1);
    rcpt(d, 0, "nobody@contoso.com", "failed", "5.1.10",
         "RESOLVER.ADR.RecipientNotFound");
}

static void test_nothing(void **state)
{
    (void)state;
    parse("", -1);
    parse("Subject: hi\n\nPlease write to me@example.com.\n", -1);
    parse("Content-Type: message/delivery-status\n\n"
          "Final-Recipient: rfc822;\nAction: failed\n\n",
          -1);
    parse("The mail system\n\n<not-an-address>: oops\n", -1);
}

/* Controls and quotes never reach a log line or JSON; too many
 * recipients are cut at the bound; an endless header line is fine. */
static void test_bounds(void **state)
{
    (void)state;
    ps_dsn *d = parse("Content-Type: message/delivery-status\r\n\r\n"
                      "Final-Recipient: rfc822; a@b.example\r\n"
                      "Diagnostic-Code: smtp; 550 \"quoted\" \\ \x01 x\r\n",
                      0);
    assert_null(strpbrk(d->rcpt[0].diagnostic, "\"\\\x01"));
    d = parse("The mail system\n\n<a\\b@x.example>: 550 no\n", 0);
    assert_string_equal(d->rcpt[0].recipient, "b@x.example");
    size_t n = 64 * 40 + 64;
    char *big = malloc(n), *p = big;
    p += sprintf(p, "Content-Type: message/delivery-status\n\n");
    for (int i = 0; i < 64; i++)
        p += sprintf(p, "Final-Recipient: rfc822; u%d@x.example\n\n", i);
    d = parse(big, 0);
    assert_int_equal(d->n, PS_DSN_RCPTS_MAX);
    free(big);
    size_t m = 100000;
    char *longline = malloc(m + 100);
    strcpy(longline, "Content-Type: message/delivery-status\n\n"
                     "Final-Recipient: rfc822; ");
    size_t k = strlen(longline);
    memset(longline + k, 'a', m);
    strcpy(longline + k + m, "@x.example\n");
    parse(longline, -1); /* an address too long for the record */
    free(longline);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc3464),   cmocka_unit_test(test_postfix),
        cmocka_unit_test(test_exim),      cmocka_unit_test(test_gmail),
        cmocka_unit_test(test_microsoft), cmocka_unit_test(test_nothing),
        cmocka_unit_test(test_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
