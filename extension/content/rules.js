// Built-in second-factor page rules. A rule matches a page by URL (urlPattern, a regular expression on
// the full URL) or by a DOM signature (fieldSelector found on the page), and says where the code field,
// the submit button and the backup-code field are. Users add rules in the options page, admins through
// managed storage (siteRules); those come from the background and are tried first.
(() => {
  const ns = (globalThis.__tracker2fa ??= {});

  ns.BUILTIN_RULES = [
    {
      name: "Atlassian Cloud two-step verification",
      urlPattern: "^https://id\\.atlassian\\.com/",
      fieldSelector:
        "input#two-step-verification-otp-code-input, input[name='otpCode'], input[data-testid='otp-code-input']",
      submitSelector: "button#login-submit, button[data-testid='verify-otp-submit'], button[type='submit']",
      backupSelector: "input#two-step-verification-recovery-code-input, input[name='recoveryCode']",
      source: "builtin",
    },
    {
      // Jira Server/Data Center 2FA apps serve their verification page from a plugin servlet.
      name: "Jira Server/Data Center 2FA app",
      urlPattern: "/plugins/servlet/[^?#]*(two-?factor|twofa|2fa|mfa|otp|totp|tfa|verif)",
      requireUrl: true,
      fieldSelector:
        "input[name='passcode'], input[name='otp'], input[name='totp'], input[name='verificationCode'], " +
        "input[name='code'], input[name='token'], input[name='tfaCode'], input#passcode",
      submitSelector: "input[type='submit'], button[type='submit'], #login-form-submit, button#verify",
      backupSelector: "input[name='backupCode'], input[name='scratchCode'], input[name='recoveryCode']",
      source: "builtin",
    },
  ];

  /** True when the rule applies to this URL (rules that need a URL) or may apply by DOM signature. */
  ns.ruleApplies = (rule, href) => {
    if (!rule.urlPattern) return true;
    let matches = false;
    try {
      matches = new RegExp(rule.urlPattern, "i").test(href);
    } catch {
      return false; // a broken user pattern never matches
    }
    return matches || (!rule.requireUrl && rule.source === "builtin");
  };

  ns.safeQueryAll = (root, selector) => {
    if (!selector) return [];
    try {
      return [...root.querySelectorAll(selector)];
    } catch {
      return []; // an invalid user selector finds nothing
    }
  };
})();
