using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Orleans.Connections.Security;

namespace Shootdown.Hosting;

/// <summary>
/// Mutual TLS between silos and clients with one shared cluster certificate: each side presents
/// it and accepts a peer only if the peer presents the same one (pinned by its SHA-256 hash). So
/// the certificate file is the cluster's secret: whoever holds it may join or run scenarios, and
/// nobody else can connect, read or alter the traffic. A self-signed certificate is enough, as no
/// certificate authority is asked; deploy/local/make-dev-cert.sh makes one.
/// </summary>
public static class ClusterTls
{
    /// <summary>The environment variable that holds the PKCS#12 file's password, if it has one.</summary>
    public const string PasswordVariable = "SHOOTDOWN_TLS_PASSWORD";

    /// <summary>Loads a PKCS#12 (.pfx) file with its private key; throws <see cref="CryptographicException"/> with the reason.</summary>
    public static X509Certificate2 Load(string path)
    {
        X509Certificate2 certificate;
        try
        {
            certificate = X509CertificateLoader.LoadPkcs12FromFile(path, Environment.GetEnvironmentVariable(PasswordVariable));
        }
        catch (CryptographicException e)
        {
            throw new CryptographicException($"not a PKCS#12 (.pfx) file, or not with the password in ${PasswordVariable} ({e.Message.TrimEnd('.')})", e);
        }
        if (!certificate.HasPrivateKey)
        {
            certificate.Dispose();
            throw new CryptographicException("the file holds no private key (export the certificate with its key, as make-dev-cert.sh does)");
        }
        return certificate;
    }

    /// <summary>Configures Orleans' TLS options to present <paramref name="certificate"/> and require it of the peer.</summary>
    public static void Configure(TlsOptions options, X509Certificate2 certificate)
    {
        var pinned = certificate.GetCertHash(HashAlgorithmName.SHA256);
        options.LocalCertificate = certificate;
        options.RemoteCertificateMode = RemoteCertificateMode.RequireCertificate;
        options.ClientCertificateMode = RemoteCertificateMode.RequireCertificate;
        options.HandshakeTimeout = TimeSpan.FromSeconds(10);
        options.RemoteCertificateValidation = (remote, _, _) =>
            remote is not null && remote.GetCertHash(HashAlgorithmName.SHA256).AsSpan().SequenceEqual(pinned);
    }
}
