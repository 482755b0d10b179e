// Prints "CODE DIGITS" for each code on the command line, from java.util.Currency (the JDK's
// ISO 4217 data): an exponent table dunningd did not write. -1: ISO 4217 gives no minor unit.
public class CurrencyDigits {
  public static void main(String[] codes) {
    for (String code : codes) {
      try {
        System.out.println(code + " " + java.util.Currency.getInstance(code).getDefaultFractionDigits());
      } catch (IllegalArgumentException e) {
        System.out.println(code + " unknown");
      }
    }
  }
}
