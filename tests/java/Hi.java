// A Java program under the runtime: a thread, and a NullPointerException raised by a read
// through null (C2 compiles it with explicit null checks under the documented setting).
public class Hi {
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
        System.out.println("java ok");
    }
}
