// The staff menus (issue 18). Without JavaScript the main menu is shown open and « Menu » folds
// it; with it, the menu starts folded on a phone and open on a wide screen, and the account menu
// closes with Escape or a click elsewhere, giving the focus back to its summary.
(function () {
  'use strict';
  var nav = document.querySelector('details.nav-menu');
  if (nav && window.matchMedia) {
    var phone = window.matchMedia('(max-width: 47.99em)');
    var fit = function () { nav.open = !phone.matches; };
    fit();
    if (phone.addEventListener) { phone.addEventListener('change', fit); }
  }
  var account = document.querySelector('details.account-menu');
  if (account) {
    document.addEventListener('keydown', function (e) {
      if (e.key === 'Escape' && account.open) {
        account.open = false;
        account.querySelector('summary').focus();
      }
    });
    document.addEventListener('click', function (e) {
      if (account.open && !account.contains(e.target)) { account.open = false; }
    });
  }
})();
