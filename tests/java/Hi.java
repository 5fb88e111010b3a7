// A Java program under the runtime: a thread, a NullPointerException raised by a read through
// null, and the same read in a hot loop (compiled on-stack, 100000 NPEs). Without protection
// keys null reads do not fault; the documented setting (C1 off, C2 with explicit null checks)
// makes the JVM check for null itself.
public class Hi {
    static String missing;

    public static void main(String[] args) throws Exception {
        Thread t = new Thread(() -> System.out.println("thread"));
        t.start();
        t.join();
        Object o = null;
        try {
            o.hashCode();
        } catch (NullPointerException e) {
            System.out.println("npe caught");
        }
        int npe = 0;
        for (int i = 0; i < 100000; i++) {
            try {
                npe -= missing.length();
            } catch (NullPointerException e) {
                npe++;
            }
        }
        System.out.println("npe " + npe);
        System.out.println("java ok");
    }
}
